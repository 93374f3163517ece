// Rlist <-> RFC 20 R version 1 JSON, and the short rlist_dumps() style text.
#include "flux/rlist.hpp"

#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rlist_internal.hpp"

namespace flux {

using nlohmann::json;
using rlist_detail::deref;
using rlist_detail::hash_set;
using rlist_detail::share;

namespace {

constexpr auto dump_lossy = json::error_handler_t::replace;

std::unexpected<Error> invalid(std::string text)
{
    return fail(EINVAL, std::move(text));
}

// An optional idset string member of a JSON object (absent or null: empty).
Result<IdSet> idset_member(const json& obj, const char* key, std::string_view where)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return IdSet{};
    if (!it->is_string())
        return invalid(fmt::format("{}.{} must be an idset string", where, key));
    auto ids = IdSet::parse(it->get_ref<const std::string&>());
    if (!ids)
        return invalid(fmt::format("{}.{}: {}", where, key, ids.error().text));
    return ids;
}

// An optional time member: absent, null or <= 0 mean unset (0).
Result<double> time_member(const json& exec, const char* key)
{
    auto it = exec.find(key);
    if (it == exec.end() || it->is_null())
        return 0.0;
    if (!it->is_number())
        return invalid(fmt::format("execution.{} must be a number", key));
    double t = it->get<double>();
    return t > 0 ? t : 0.0;
}

}  // namespace

Result<Rlist> Rlist::parse(std::string_view json_text)
{
    json R;
    try {
        R = json::parse(json_text);
    } catch (const json::exception& e) {
        return invalid(fmt::format("R: invalid JSON: {}", e.what()));
    }
    return from_json(R);
}

Result<Rlist> Rlist::from_json(const json& R)
{
    if (!R.is_object())
        return invalid("R: not a JSON object");
    auto version = R.find("version");
    if (version == R.end())
        return invalid("R: missing version");
    if (!version->is_number_integer())
        return invalid("R: version must be an integer");
    if (version->get<std::int64_t>() != 1)
        return invalid(fmt::format("R: invalid version={} (expected 1)", version->dump()));
    auto exec_it = R.find("execution");
    if (exec_it == R.end())
        return invalid("R: missing execution");
    if (!exec_it->is_object())
        return invalid("R: execution must be an object");
    const json& exec = *exec_it;
    auto R_lite = exec.find("R_lite");
    if (R_lite == exec.end())
        return invalid("R: missing execution.R_lite");
    if (!R_lite->is_array())
        return invalid("R: execution.R_lite must be an array");

    Rlist out;
    std::vector<std::uint32_t> entry_of;  // R_lite index of each node, for errors
    for (std::size_t i = 0; i < R_lite->size(); i++) {
        const json& entry = (*R_lite)[i];
        std::string where = fmt::format("R_lite[{}]", i);
        if (!entry.is_object())
            return invalid(where + " must be an object");
        auto rank = entry.find("rank");
        if (rank == entry.end())
            return invalid(where + ": missing rank");
        if (!rank->is_string())
            return invalid(where + ": rank must be an idset string");
        auto ranks = IdSet::parse(rank->get_ref<const std::string&>());
        if (!ranks)
            return invalid(fmt::format("{}: rank: {}", where, ranks.error().text));
        auto children = entry.find("children");
        if (children == entry.end())
            return invalid(where + ": missing children");
        if (!children->is_object())
            return invalid(where + ": children must be an object");
        auto cores = idset_member(*children, "core", where + ".children");
        if (!cores)
            return std::unexpected(cores.error());
        auto gpus = idset_member(*children, "gpu", where + ".children");
        if (!gpus)
            return std::unexpected(gpus.error());
        if (out.nodes_.size() + ranks->count() > max_targets)
            return invalid(fmt::format("{}: too many execution targets (limit {})", where, max_targets));
        SetPtr core_ptr = share(std::move(*cores));
        SetPtr gpu_ptr = share(std::move(*gpus));
        for (std::uint32_t r : *ranks) {
            out.nodes_.push_back(Node{r, {}, core_ptr, gpu_ptr});
            entry_of.push_back(static_cast<std::uint32_t>(i));
        }
    }

    // Entries normally list disjoint ranks in order; otherwise sort, and
    // merge a rank named twice if its ids do not overlap (as flux-core does).
    auto& nodes = out.nodes_;
    auto ascending = [&nodes](std::size_t k) { return nodes[k].rank < nodes[k + 1].rank; };
    bool sorted = true;
    for (std::size_t k = 0; k + 1 < nodes.size() && sorted; k++)
        sorted = ascending(k);
    if (!sorted) {
        std::vector<std::size_t> order(nodes.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::stable_sort(order.begin(), order.end(),
                         [&nodes](std::size_t a, std::size_t b) { return nodes[a].rank < nodes[b].rank; });
        std::vector<Node> merged;
        merged.reserve(nodes.size());
        std::vector<std::uint32_t> merged_entry;
        for (std::size_t k : order) {
            Node& n = nodes[k];
            if (merged.empty() || merged.back().rank != n.rank) {
                merged.push_back(std::move(n));
                merged_entry.push_back(entry_of[k]);
                continue;
            }
            Node& m = merged.back();
            IdSet both_cores = deref(m.cores) & deref(n.cores);
            IdSet both_gpus = deref(m.gpus) & deref(n.gpus);
            if (!both_cores.empty() || !both_gpus.empty())
                return invalid(fmt::format("R_lite[{}]: duplicate rank {}: {} {} already listed in R_lite[{}]",
                                           entry_of[k], n.rank, both_cores.empty() ? "gpu" : "core",
                                           (both_cores.empty() ? both_gpus : both_cores).encode(),
                                           merged_entry.back()));
            if (n.cores)
                m.cores = share(deref(m.cores) | *n.cores);
            if (n.gpus)
                m.gpus = share(deref(m.gpus) | *n.gpus);
        }
        nodes = std::move(merged);
    }

    if (auto nodelist = exec.find("nodelist"); nodelist != exec.end() && !nodelist->is_null()) {
        if (!nodelist->is_array())
            return invalid("execution.nodelist must be an array of hostlist strings");
        Hostlist hosts;
        for (std::size_t k = 0; k < nodelist->size(); k++) {
            const json& h = (*nodelist)[k];
            if (!h.is_string())
                return invalid(fmt::format("execution.nodelist[{}] must be a string", k));
            if (auto r = hosts.append(h.get_ref<const std::string&>()); !r)
                return invalid(fmt::format("execution.nodelist[{}]: {}", k, r.error().text));
        }
        if (hosts.size() != nodes.size())
            return invalid(fmt::format("execution.nodelist names {} host{} but R_lite has {} rank{}", hosts.size(),
                                       hosts.size() == 1 ? "" : "s", nodes.size(), nodes.size() == 1 ? "" : "s"));
        std::size_t k = 0;
        for (std::string h : hosts)
            nodes[k++].hostname = std::move(h);
    }

    if (auto props = exec.find("properties"); props != exec.end() && !props->is_null()) {
        if (!props->is_object())
            return invalid("execution.properties must be an object");
        IdSet all = out.ranks();
        for (const auto& [name, val] : props->items()) {
            if (!val.is_string())
                return invalid(fmt::format("execution.properties: value of \"{}\" must be an idset string", name));
            auto ids = IdSet::parse(val.get_ref<const std::string&>());
            if (!ids)
                return invalid(fmt::format("execution.properties: property \"{}\": {}", name, ids.error().text));
            if (name.empty())
                return invalid("execution.properties: property name is empty");
            if (char c = rlist_detail::invalid_property_char(name))
                return invalid(fmt::format("execution.properties: invalid character '{}' in property \"{}\"", c, name));
            IdSet unknown = *ids - all;
            if (!unknown.empty())
                return invalid(fmt::format("execution.properties: property \"{}\": rank{} {} not in R_lite", name,
                                           unknown.count() == 1 ? "" : "s", unknown.encode()));
            if (!ids->empty())
                out.properties_.emplace(name, std::move(*ids));
        }
    }

    auto start = time_member(exec, "starttime");
    if (!start)
        return std::unexpected(start.error());
    auto end = time_member(exec, "expiration");
    if (!end)
        return std::unexpected(end.error());
    if (*start > 0 && *end > 0 && *end <= *start)
        return invalid(fmt::format("execution.expiration ({}) must be greater than starttime ({})", *end, *start));
    out.starttime_ = *start;
    out.expiration_ = *end;

    if (auto sched = R.find("scheduling"); sched != R.end() && !sched->is_null())
        out.scheduling_ = sched->dump(-1, ' ', false, dump_lossy);
    return out;
}

std::vector<Rlist::Group> Rlist::groups() const
{
    // Ranks with equal core and gpu sets form one group. Consecutive ranks
    // sharing the same set objects (the common case) skip the hash lookup.
    struct Key {
        const IdSet* cores;
        const IdSet* gpus;
    };
    auto hash = [](const Key& k) { return hash_set(*k.cores) * 31 + hash_set(*k.gpus); };
    auto equal = [](const Key& a, const Key& b) { return *a.cores == *b.cores && *a.gpus == *b.gpus; };
    std::unordered_map<Key, std::size_t, decltype(hash), decltype(equal)> index(16, hash, equal);
    std::vector<Group> out;
    const Node* prev = nullptr;
    std::size_t g = 0;
    for (const Node& n : nodes_) {
        if (!prev || prev->cores != n.cores || prev->gpus != n.gpus) {
            auto [it, inserted] = index.try_emplace(Key{&deref(n.cores), &deref(n.gpus)}, out.size());
            if (inserted)
                out.push_back(Group{{}, &n});
            g = it->second;
        }
        (void)out[g].ranks.insert(n.rank);
        prev = &n;
    }
    return out;
}

std::string Rlist::to_json() const
{
    json R_lite = json::array();
    for (const Group& g : groups()) {
        json children = json::object();
        children["core"] = deref(g.node->cores).encode();
        if (g.node->gpus)
            children["gpu"] = g.node->gpus->encode();
        json entry = json::object();
        entry["rank"] = g.ranks.encode();
        entry["children"] = std::move(children);
        R_lite.push_back(std::move(entry));
    }
    json exec = json::object();
    exec["R_lite"] = std::move(R_lite);
    exec["starttime"] = starttime_;
    exec["expiration"] = expiration_;
    if (auto hosts = nodelist_text()) {
        json nodelist = json::array();
        if (!hosts->empty())
            nodelist.push_back(std::move(*hosts));
        exec["nodelist"] = std::move(nodelist);
    }
    if (!properties_.empty()) {
        json props = json::object();
        for (const auto& [name, ids] : properties_)
            props[name] = ids.encode();
        exec["properties"] = std::move(props);
    }
    std::string out = "{\"version\":1,\"execution\":";
    out += exec.dump(-1, ' ', false, dump_lossy);
    if (scheduling_) {
        out += ",\"scheduling\":";
        out += *scheduling_;
    }
    out += '}';
    return out;
}

std::string Rlist::to_string() const
{
    std::string out;
    for (const Group& g : groups()) {
        if (!g.node->has_resources())
            continue;
        if (!out.empty())
            out += ' ';
        out += "rank" + g.ranks.encode(true) + "/";
        if (g.node->cores)
            out += "core" + g.node->cores->encode(true);
        if (g.node->gpus)
            out += (g.node->cores ? ",gpu" : "gpu") + g.node->gpus->encode(true);
    }
    return out;
}

Result<void> Rlist::set_scheduling(std::optional<std::string_view> json_text)
{
    if (!json_text) {
        scheduling_.reset();
        return {};
    }
    try {
        scheduling_ = json::parse(*json_text).dump(-1, ' ', false, dump_lossy);
    } catch (const json::exception& e) {
        return invalid(fmt::format("scheduling: invalid JSON: {}", e.what()));
    }
    return {};
}

}  // namespace flux
