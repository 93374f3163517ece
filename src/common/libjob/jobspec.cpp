// Jobspec V1 (RFC 25) validation: from JSON to the facts the job system
// needs (flux::job::Jobspec). Building one from options is jobspec_build.cpp.
#include "flux/jobspec.hpp"

#include <cmath>
#include <initializer_list>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace flux::job {

using nlohmann::json;

namespace {

constexpr auto dump_lossy = json::error_handler_t::replace;

std::unexpected<Error> invalid(std::string_view what)
{
    return fail(EINVAL, fmt::format("jobspec: {}", what));
}

// Refuse keys of `obj` not in `allowed`.
Result<void> only_keys(const json& obj, std::string_view path, std::initializer_list<std::string_view> allowed)
{
    for (const auto& [key, value] : obj.items()) {
        bool ok = false;
        for (auto a : allowed)
            ok = ok || key == a;
        if (!ok)
            return invalid(fmt::format("{}: unknown key '{}'", path, key));
    }
    return {};
}

const json* member(const json& obj, std::string_view key)
{
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

// An integer count in [min, UINT32_MAX].
Result<std::uint32_t> count_value(const json& v, std::string_view path, std::uint32_t min)
{
    if (v.is_object() || v.is_string())
        return invalid(
            fmt::format("{} must be an integer: count ranges (RFC 14 min/max or idset strings) are not "
                        "supported in jobspec version 1",
                        path));
    if (!v.is_number_integer())
        return invalid(fmt::format("{} must be an integer (got {})", path, v.type_name()));
    bool negative = !v.is_number_unsigned() && v.get<std::int64_t>() < 0;
    if (negative || v.get<std::uint64_t>() < min)
        return invalid(fmt::format("{} must be {}", path, min == 0 ? "a non-negative integer" : "a positive integer"));
    if (v.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
        return invalid(fmt::format("{} is too large", path));
    return static_cast<std::uint32_t>(v.get<std::uint64_t>());
}

// A resource vertex's common checks: object, string type, known keys, count.
Result<std::uint32_t> vertex(const json& v, const std::string& path, std::initializer_list<std::string_view> keys,
                             std::uint32_t min_count)
{
    if (!v.is_object())
        return invalid(fmt::format("{} must be an object", path));
    const json* type = member(v, "type");
    if (!type || !type->is_string())
        return invalid(fmt::format("{}.type must be a string", path));
    if (auto r = only_keys(v, path, keys); !r)
        return std::unexpected(r.error());
    if (const json* unit = member(v, "unit"); unit && !unit->is_string())
        return invalid(fmt::format("{}.unit must be a string", path));
    const json* count = member(v, "count");
    if (!count)
        return invalid(fmt::format("{}.count is required", path));
    return count_value(*count, path + ".count", min_count);
}

// The slot vertex and its core/gpu children.
Result<std::string> parse_slot(const json& slot, const std::string& path, Jobspec& js)
{
    auto count = vertex(slot, path, {"type", "count", "unit", "with", "label", "exclusive"}, 1);
    if (!count)
        return std::unexpected(count.error());
    if (const json* x = member(slot, "exclusive"); x && !x->is_boolean())
        return invalid(fmt::format("{}.exclusive must be a boolean", path));
    const json* label = member(slot, "label");
    if (!label || !label->is_string() || label->get_ref<const std::string&>().empty())
        return invalid(fmt::format("{}.label must be a non-empty string (slots must have labels)", path));
    const json* with = member(slot, "with");
    if (!with || !with->is_array() || with->empty() || with->size() > 2)
        return invalid(fmt::format("{}.with must be an array of a core and optionally a gpu vertex", path));
    bool have_core = false, have_gpu = false;
    for (std::size_t i = 0; i < with->size(); i++) {
        const json& child = (*with)[i];
        std::string cpath = fmt::format("{}.with[{}]", path, i);
        std::string type = child.is_object() && child.contains("type") && child["type"].is_string()
                               ? child["type"].get<std::string>()
                               : std::string();
        if (type == "core" && !have_core) {
            auto n = vertex(child, cpath, {"type", "count", "unit"}, 1);
            if (!n)
                return std::unexpected(n.error());
            js.cores_per_slot = *n;
            have_core = true;
        } else if (type == "gpu" && !have_gpu) {
            auto n = vertex(child, cpath, {"type", "count", "unit"}, 0);
            if (!n)
                return std::unexpected(n.error());
            js.gpus_per_slot = *n;
            have_gpu = true;
        } else if (type == "core" || type == "gpu") {
            return invalid(fmt::format("{}: a slot may contain only one {} vertex", cpath, type));
        } else if (!child.is_object()) {
            return invalid(fmt::format("{} must be an object", cpath));
        } else {
            return invalid(fmt::format("{}.type must be 'core' or 'gpu'", cpath));
        }
    }
    if (!have_core)
        return invalid(fmt::format("{}.with must contain a core vertex", path));
    js.nslots = *count;
    return label->get<std::string>();
}

// resources: [slot] or [node{with: [slot]}]; returns the slot label.
Result<std::string> parse_resources(const json& res, Jobspec& js)
{
    if (!res.is_array() || res.size() != 1)
        return invalid("resources must be an array with exactly one entry (node or slot)");
    const json& top = res[0];
    std::string type = top.is_object() && top.contains("type") && top["type"].is_string()
                           ? top["type"].get<std::string>()
                           : std::string();
    if (type == "slot")
        return parse_slot(top, "resources[0]", js);
    if (type != "node") {
        if (!top.is_object())
            return invalid("resources[0] must be an object");
        return invalid("resources[0].type must be 'node' or 'slot'");
    }
    auto nnodes = vertex(top, "resources[0]", {"type", "count", "unit", "with", "label", "exclusive"}, 1);
    if (!nnodes)
        return std::unexpected(nnodes.error());
    if (const json* label = member(top, "label"); label && !label->is_string())
        return invalid("resources[0].label must be a string");
    if (const json* x = member(top, "exclusive")) {
        if (!x->is_boolean())
            return invalid("resources[0].exclusive must be a boolean");
        js.exclusive = x->get<bool>();
    }
    const json* with = member(top, "with");
    if (!with || !with->is_array() || with->size() != 1)
        return invalid("resources[0].with must be an array with exactly one slot");
    const json& slot = (*with)[0];
    if (!slot.is_object() || !slot.contains("type") || slot["type"] != "slot")
        return invalid("resources[0].with[0].type must be 'slot'");
    auto label = parse_slot(slot, "resources[0].with[0]", js);
    if (!label)
        return label;
    std::uint64_t total = std::uint64_t{*nnodes} * js.nslots;
    if (total > std::numeric_limits<std::uint32_t>::max())
        return invalid("resources: total slot count is too large");
    js.nnodes = *nnodes;
    js.slots_per_node = js.nslots;
    js.nslots = static_cast<std::uint32_t>(total);
    return label;
}

Result<void> parse_tasks(const json& tasks, const std::string& label, Jobspec& js)
{
    if (!tasks.is_array() || tasks.size() != 1)
        return invalid("tasks must be an array with exactly one entry");
    const json& t = tasks[0];
    if (!t.is_object())
        return invalid("tasks[0] must be an object");
    if (auto r = only_keys(t, "tasks[0]", {"command", "slot", "count", "attributes", "distribution"}); !r)
        return r;
    const json* cmd = member(t, "command");
    if (!cmd || !cmd->is_array() || cmd->empty())
        return invalid("tasks[0].command must be a non-empty array of strings");
    for (const auto& arg : *cmd) {
        if (!arg.is_string())
            return invalid("tasks[0].command must be a non-empty array of strings");
        js.command.push_back(arg.get<std::string>());
    }
    const json* slot = member(t, "slot");
    if (!slot || !slot->is_string())
        return invalid("tasks[0].slot must be a string");
    if (*slot != label)
        return invalid(fmt::format("tasks[0].slot '{}' does not match the slot label '{}'",
                                   slot->get_ref<const std::string&>(), label));
    if (const json* a = member(t, "attributes"); a && !a->is_object())
        return invalid("tasks[0].attributes must be an object");
    if (const json* d = member(t, "distribution"); d && !d->is_string())
        return invalid("tasks[0].distribution must be a string");
    const json* count = member(t, "count");
    if (!count || !count->is_object() || count->size() != 1 ||
        !(count->contains("per_slot") || count->contains("total")))
        return invalid("tasks[0].count must be an object with exactly one of per_slot or total");
    if (const json* per_slot = member(*count, "per_slot")) {
        auto n = count_value(*per_slot, "tasks[0].count.per_slot", 1);
        if (!n)
            return std::unexpected(n.error());
        if (*n != 1)
            return invalid("tasks[0].count.per_slot must be 1 in jobspec version 1");
        js.tasks_per_slot = 1;
        js.ntasks = js.nslots;
    } else {
        auto n = count_value((*count)["total"], "tasks[0].count.total", 1);
        if (!n)
            return std::unexpected(n.error());
        if (*n < js.nnodes)
            return invalid(
                fmt::format("tasks[0].count.total ({}) must be at least the number of nodes ({})", *n, js.nnodes));
        js.ntasks = *n;
    }
    return {};
}

Result<void> parse_shell(const json& shell, Jobspec& js)
{
    if (!shell.is_object())
        return invalid("attributes.system.shell must be an object");
    const json* opts = member(shell, "options");
    if (!opts)
        return {};
    if (!opts->is_object())
        return invalid("attributes.system.shell.options must be an object");
    const json* pr = member(*opts, "per-resource");
    if (!pr)
        return {};
    constexpr std::string_view path = "attributes.system.shell.options.per-resource";
    if (!pr->is_object())
        return invalid(fmt::format("{} must be an object", path));
    const json* type = member(*pr, "type");
    if (!type || !(*type == "node" || *type == "core"))
        return invalid(fmt::format("{}.type must be 'node' or 'core'", path));
    Jobspec::PerResource per{type->get<std::string>(), 1};
    if (const json* n = member(*pr, "count")) {
        auto c = count_value(*n, fmt::format("{}.count", path), 1);
        if (!c)
            return std::unexpected(c.error());
        per.count = *c;
    }
    js.per_resource = per;
    return {};
}

Result<void> parse_system(const json& sys, Jobspec& js)
{
    if (!sys.is_object())
        return invalid("attributes.system must be an object");
    const json* duration = member(sys, "duration");
    if (!duration)
        return invalid("attributes.system.duration is required");
    if (!duration->is_number() || !std::isfinite(duration->get<double>()) || duration->get<double>() < 0)
        return invalid("attributes.system.duration must be a number >= 0");
    js.duration = duration->get<double>();
    if (const json* env = member(sys, "environment")) {
        if (!env->is_object())
            return invalid("attributes.system.environment must be an object");
        for (const auto& [name, value] : env->items()) {
            if (!value.is_string() && !value.is_null())
                return invalid(fmt::format("attributes.system.environment.{} must be a string", name));
        }
    }
    for (const char* key : {"cwd", "queue"}) {
        if (const json* v = member(sys, key); v && !v->is_string())
            return invalid(fmt::format("attributes.system.{} must be a string", key));
    }
    if (const json* cwd = member(sys, "cwd"))
        js.cwd = cwd->get<std::string>();
    if (const json* queue = member(sys, "queue"))
        js.queue = queue->get<std::string>();
    if (const json* job = member(sys, "job")) {
        if (!job->is_object())
            return invalid("attributes.system.job must be an object");
        if (const json* name = member(*job, "name")) {
            if (!name->is_string())
                return invalid("attributes.system.job.name must be a string");
            js.job_name = name->get<std::string>();
        }
    }
    if (const json* shell = member(sys, "shell")) {
        if (auto r = parse_shell(*shell, js); !r)
            return r;
    }
    if (const json* deps = member(sys, "dependencies")) {
        if (!deps->is_array())
            return invalid("attributes.system.dependencies must be an array");
        for (std::size_t i = 0; i < deps->size(); i++) {
            const json& d = (*deps)[i];
            if (!d.is_object() || !d.contains("scheme") || !d["scheme"].is_string() || !d.contains("value") ||
                !d["value"].is_string())
                return invalid(fmt::format(
                    "attributes.system.dependencies[{}] must be an object with string scheme and value", i));
        }
    }
    if (const json* c = member(sys, "constraints"); c && !c->is_object())
        return invalid("attributes.system.constraints must be an object");
    return {};
}

std::string basename_of(const std::string& path)
{
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos || slash + 1 == path.size())
        return path;
    return path.substr(slash + 1);
}

}  // namespace

Result<Jobspec> Jobspec::parse(std::string_view text)
{
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        return fail(EPROTO, fmt::format("jobspec: invalid JSON: {}", e.what()));
    }
    return from_json(std::move(j));
}

Result<Jobspec> Jobspec::from_json(const json& j)
{
    auto js = check(j);
    if (js)
        js->doc = std::make_shared<const json>(j);
    return js;
}

Result<Jobspec> Jobspec::from_json(json&& j)
{
    auto js = check(j);
    if (js)
        js->doc = std::make_shared<const json>(std::move(j));
    return js;
}

Result<Jobspec> Jobspec::check(const json& j)
{
    if (!j.is_object())
        return invalid("must be a JSON object");
    for (const char* key : {"version", "resources", "tasks", "attributes"}) {
        if (!j.contains(key))
            return invalid(fmt::format("missing required key '{}'", key));
    }
    if (auto r = only_keys(j, "top level", {"version", "resources", "tasks", "attributes"}); !r)
        return std::unexpected(r.error());
    if (!j["version"].is_number_integer() || j["version"] != 1)
        return invalid(fmt::format("version must be 1 (got {})", j["version"].dump(-1, ' ', false, dump_lossy)));

    Jobspec js;
    auto label = parse_resources(j["resources"], js);
    if (!label)
        return std::unexpected(label.error());
    if (auto r = parse_tasks(j["tasks"], *label, js); !r)
        return std::unexpected(r.error());

    const json& attrs = j["attributes"];
    if (!attrs.is_object())
        return invalid("attributes must be an object");
    if (auto r = only_keys(attrs, "attributes", {"system", "user"}); !r)
        return std::unexpected(r.error());
    const json* sys = member(attrs, "system");
    if (!sys)
        return invalid("attributes.system is required");
    if (auto r = parse_system(*sys, js); !r)
        return std::unexpected(r.error());

    if (js.job_name.empty())
        js.job_name = basename_of(js.command[0]);
    return js;
}

std::map<std::string, std::string> Jobspec::environment() const
{
    std::map<std::string, std::string> env;
    if (!doc)
        return env;
    auto p = json::json_pointer("/attributes/system/environment");
    if (!doc->contains(p))
        return env;
    for (const auto& [name, value] : doc->at(p).items()) {
        if (value.is_string())
            env.emplace(name, value.get<std::string>());
    }
    return env;
}

std::string Jobspec::shell_options() const
{
    auto p = json::json_pointer("/attributes/system/shell/options");
    if (!doc || !doc->contains(p))
        return "{}";
    return doc->at(p).dump(-1, ' ', false, dump_lossy);
}

std::string Jobspec::dump() const
{
    return doc ? doc->dump(-1, ' ', false, dump_lossy) : std::string("{}");
}

std::string Jobspec::sched_view() const
{
    if (!doc)
        return "{}";
    json view{{"version", doc->value("version", 1)}, {"resources", doc->at("resources")}, {"tasks", doc->at("tasks")}};
    view["attributes"]["system"]["duration"] = duration;
    if (!queue.empty())
        view["attributes"]["system"]["queue"] = queue;
    return view.dump(-1, ' ', false, dump_lossy);
}

std::string Jobspec::listing_view() const
{
    if (!doc)
        return "{}";
    // Copied piece by piece: the environment is most of a jobspec.
    json view = json::object();
    for (const auto& [k, v] : doc->items()) {
        if (k != "attributes" || !v.is_object()) {
            view[k] = v;
            continue;
        }
        json& attrs = view[k] = json::object();
        for (const auto& [ak, av] : v.items()) {
            if (ak != "system" || !av.is_object()) {
                attrs[ak] = av;
                continue;
            }
            json& sys = attrs[ak] = json::object();
            for (const auto& [sk, sv] : av.items())
                if (sk != "environment" && sk != "files")
                    sys[sk] = sv;
        }
    }
    return view.dump(-1, ' ', false, dump_lossy);
}

std::vector<std::pair<std::string, std::string>> Jobspec::dependencies() const
{
    std::vector<std::pair<std::string, std::string>> out;
    auto p = json::json_pointer("/attributes/system/dependencies");
    if (!doc || !doc->contains(p) || !doc->at(p).is_array())
        return out;
    for (const auto& d : doc->at(p))
        if (d.is_object() && d.value("scheme", json()).is_string() && d.value("value", json()).is_string())
            out.emplace_back(d["scheme"].get<std::string>(), d["value"].get<std::string>());
    return out;
}

}  // namespace flux::job
