// Broker configuration: TOML/JSON loading, KEY=VAL overrides and typed getters (see conf.hpp).
#include "libconf/conf.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace flux::conf {

using nlohmann::json;

namespace {

std::string errno_text(int errnum)
{
    return std::error_code(errnum, std::generic_category()).message();
}

// "NAME:LINE:COLUMN: " for a position in a TOML document (line 0 = unknown).
std::string where(std::string_view name, const toml::source_position& pos)
{
    std::string s(name);
    if (pos.line > 0) {
        s += ":" + std::to_string(pos.line);
        if (pos.column > 0)
            s += ":" + std::to_string(pos.column);
    }
    return s + ": ";
}

template <class T>
std::string to_text(const T& v)
{
    std::ostringstream os;
    os << v;
    return os.str();
}

Result<json> toml_to_json(const toml::node& node, std::string_view name)
{
    switch (node.type()) {
        case toml::node_type::table: {
            json obj = json::object();
            for (auto&& [key, child] : *node.as_table()) {
                auto val = toml_to_json(child, name);
                if (!val)
                    return val;
                obj[std::string(key.str())] = std::move(*val);
            }
            return obj;
        }
        case toml::node_type::array: {
            json arr = json::array();
            for (const toml::node& child : *node.as_array()) {
                auto val = toml_to_json(child, name);
                if (!val)
                    return val;
                arr.push_back(std::move(*val));
            }
            return arr;
        }
        case toml::node_type::string:
            return json(node.as_string()->get());
        case toml::node_type::integer:
            return json(node.as_integer()->get());
        case toml::node_type::floating_point: {
            double d = node.as_floating_point()->get();
            if (!std::isfinite(d))
                return fail(EINVAL,
                            where(name, node.source().begin)
                                + "inf and nan are not supported (JSON cannot "
                                  "represent them)");
            return json(d);
        }
        case toml::node_type::boolean:
            return json(node.as_boolean()->get());
        case toml::node_type::date:
            return json(to_text(node.as_date()->get()));
        case toml::node_type::time:
            return json(to_text(node.as_time()->get()));
        case toml::node_type::date_time:
            return json(to_text(node.as_date_time()->get()));
        case toml::node_type::none:
            break;
    }
    return fail(EINVAL, where(name, node.source().begin) + "unknown TOML type");
}

// Parse TOML text, converting toml++ exceptions into errors.
Result<json> parse_toml(std::string_view text, std::string_view name)
{
    try {
        toml::table tab = toml::parse(text, name);
        return toml_to_json(tab, name);
    }
    catch (const toml::parse_error& e) {
        return fail(EINVAL,
                    where(name, e.source().begin) + std::string(e.description()));
    }
    catch (const std::bad_alloc&) {
        return fail(ENOMEM, std::string(name) + ": out of memory");
    }
    catch (const std::exception& e) {
        return fail(EINVAL, std::string(name) + ": " + e.what());
    }
}

// Read a whole file; errors carry errno and name the path.
Result<std::string> read_text(const std::string& path)
{
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> fp(
        std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!fp)
        return fail(errno, path + ": " + errno_text(errno));
    std::string text;
    char buf[8192];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), fp.get())) > 0)
        text.append(buf, n);
    if (std::ferror(fp.get())) {
        int e = errno ? errno : EIO;
        return fail(e, path + ": " + errno_text(e));
    }
    return text;
}

Result<json> load_json_file(const std::string& path)
{
    auto text = read_text(path);
    if (!text)
        return std::unexpected(text.error());
    try {
        json obj = json::parse(*text);
        if (!obj.is_object())
            return fail(EINVAL, path + ": top-level JSON value must be an object");
        return obj;
    }
    catch (const json::parse_error& e) {
        // e.byte is a 1-based offset; turn it into line:column.
        size_t line = 1, col = 1;
        size_t end = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text->size());
        for (size_t i = 0; i < end; i++) {
            if ((*text)[i] == '\n') {
                line++;
                col = 1;
            }
            else
                col++;
        }
        return fail(EINVAL,
                    path + ":" + std::to_string(line) + ":" + std::to_string(col)
                        + ": " + e.what());
    }
    catch (const std::exception& e) {
        return fail(EINVAL, path + ": " + e.what());
    }
}

Result<json> load_toml_file(const std::string& path)
{
    auto text = read_text(path);
    if (!text)
        return std::unexpected(text.error());
    return parse_toml(*text, path);
}

Result<json> load_dir(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<std::string> names;
    fs::directory_iterator it(path, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        std::string name = it->path().filename().string();
        std::error_code ec2;
        // Like glob("*.toml"): no dot files; like flux-core, regular files only.
        if (name.starts_with(".") || !name.ends_with(".toml")
            || !fs::is_regular_file(it->path(), ec2))
            continue;
        names.push_back(std::move(name));
    }
    if (ec)
        return fail(ec.value(), path + ": " + ec.message());
    std::sort(names.begin(), names.end());

    json conf = json::object();
    for (const auto& name : names) {
        auto obj = load_toml_file((fs::path(path) / name).string());
        if (!obj)
            return obj;
        merge(conf, *obj);
    }
    return conf;
}

// Split "a.b.c" into components; empty key or empty component is an error.
Result<std::vector<std::string>> split_key(std::string_view key)
{
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t dot = key.find('.', start);
        std::string_view part = key.substr(start, dot == key.npos ? key.npos : dot - start);
        if (part.empty())
            return fail(EINVAL, "invalid config key '" + std::string(key) + "'");
        parts.emplace_back(part);
        if (dot == key.npos)
            break;
        start = dot + 1;
    }
    return parts;
}

bool all_finite(const json& j)
{
    if (j.is_number_float())
        return std::isfinite(j.get<double>());
    if (j.is_structured()) {
        for (const auto& v : j)
            if (!all_finite(v))
                return false;
    }
    return true;
}

// VAL of KEY=VAL: JSON, else a TOML value, else the verbatim string.
json parse_override_value(std::string_view val)
{
    json j = json::parse(val, nullptr, false);
    if (!j.is_discarded() && all_finite(j))
        return j;
    std::string doc = "v = ";
    doc.append(val);
    doc += "\n";
    auto tab = parse_toml(doc, "<override>");
    if (tab && tab->size() == 1 && tab->contains("v"))
        return (*tab)["v"];
    return json(std::string(val));
}

std::string type_name(const json& j)
{
    switch (j.type()) {
        case json::value_t::object:
            return "table";
        case json::value_t::array:
            return "array";
        case json::value_t::string:
            return "string";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "integer";
        case json::value_t::number_float:
            return "float";
        case json::value_t::boolean:
            return "boolean";
        case json::value_t::null:
            return "null";
        default:
            return "unknown";
    }
}

// "a table", "an integer": for messages that read as sentences.
std::string with_article(const std::string& noun)
{
    const bool vowel = !noun.empty() && std::string_view("aeiou").contains(noun[0]);
    return (vowel ? "an " : "a ") + noun;
}

std::unexpected<Error> type_error(std::string_view key,
                                  std::string_view expected,
                                  const json& got)
{
    return fail(EINVAL,
                std::string(key) + ": expected " + std::string(expected) + ", got "
                    + type_name(got));
}

// Shared body of the getters: look up, apply default, convert.
template <class T, class Convert>
Result<T> get_typed(const json& conf, std::string_view key, T def, Convert convert)
{
    try {
        auto val = lookup(conf, key);
        if (!val)
            return std::unexpected(val.error());
        if (*val == nullptr)
            return def;
        return convert(**val);
    }
    catch (const std::exception& e) {
        return fail(EINVAL, std::string(key) + ": " + e.what());
    }
}

}  // namespace

Result<json> load_string(std::string_view toml_text, std::string_view name)
{
    return parse_toml(toml_text, name);
}

void merge(json& dst, const json& src)
{
    if (!dst.is_object() || !src.is_object()) {
        dst = src;
        return;
    }
    for (const auto& [key, val] : src.items()) {
        auto it = dst.find(key);
        if (it != dst.end() && it->is_object() && val.is_object())
            merge(*it, val);
        else
            dst[key] = val;
    }
}

Result<json> load_path(const std::string& path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) < 0)
        return fail(errno, path + ": " + errno_text(errno));
    try {
        if (S_ISDIR(st.st_mode))
            return load_dir(path);
        if (path.ends_with(".json"))
            return load_json_file(path);
        return load_toml_file(path);
    }
    catch (const std::bad_alloc&) {
        return fail(ENOMEM, path + ": out of memory");
    }
    catch (const std::exception& e) {
        return fail(EINVAL, path + ": " + e.what());
    }
}

Result<void> apply_override(json& conf, std::string_view key_eq_val)
{
    const std::string arg(key_eq_val);
    const size_t eq = key_eq_val.find('=');
    if (eq == key_eq_val.npos)
        return fail(EINVAL, "'" + arg + "': expected KEY=VAL");
    const std::string_view key = key_eq_val.substr(0, eq);
    auto parts = split_key(key);
    if (!parts)
        return fail(EINVAL, "'" + arg + "': " + parts.error().text);
    try {
        json value = parse_override_value(key_eq_val.substr(eq + 1));
        if (conf.is_null())
            conf = json::object();
        if (!conf.is_object())
            return fail(EINVAL, "'" + arg + "': configuration is not a table");
        // Only existing components can fail the check, and they all come
        // before the first created one, so conf is untouched on error.
        json* cur = &conf;
        std::string walked;
        for (size_t i = 0; i + 1 < parts->size(); i++) {
            const std::string& part = (*parts)[i];
            walked += (i ? "." : "") + part;
            auto it = cur->find(part);
            if (it == cur->end())
                cur = &((*cur)[part] = json::object());
            else if (it->is_object())
                cur = &*it;
            else
                return fail(EINVAL,
                            "'" + arg + "': " + walked + " is "
                                + with_article(type_name(*it)) + ", not a table");
        }
        (*cur)[parts->back()] = std::move(value);
        return {};
    }
    catch (const std::bad_alloc&) {
        return fail(ENOMEM, "'" + arg + "': out of memory");
    }
    catch (const std::exception& e) {
        return fail(EINVAL, "'" + arg + "': " + e.what());
    }
}

Result<const json*> lookup(const json& conf, std::string_view key)
{
    auto parts = split_key(key);
    if (!parts)
        return std::unexpected(parts.error());
    if (conf.is_null())
        return nullptr;
    const json* cur = &conf;
    std::string walked;
    for (const auto& part : *parts) {
        if (!cur->is_object()) {
            if (walked.empty())
                return fail(EINVAL, std::string(key) + ": configuration is not a table");
            return fail(EINVAL,
                        std::string(key) + ": " + walked + " is "
                            + with_article(type_name(*cur)) + ", not a table");
        }
        auto it = cur->find(part);
        if (it == cur->end())
            return nullptr;
        cur = &*it;
        walked += (walked.empty() ? "" : ".") + part;
    }
    return cur;
}

Result<std::int64_t> get_int(const json& conf, std::string_view key, std::int64_t def)
{
    return get_typed<std::int64_t>(
        conf, key, def, [key](const json& v) -> Result<std::int64_t> {
            if (v.is_number_integer() && !v.is_number_unsigned())
                return v.get<std::int64_t>();
            if (v.is_number_unsigned()) {
                auto u = v.get<std::uint64_t>();
                if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                    return fail(ERANGE, std::string(key) + ": integer out of range");
                return static_cast<std::int64_t>(u);
            }
            return type_error(key, "integer", v);
        });
}

Result<double> get_double(const json& conf, std::string_view key, double def)
{
    return get_typed<double>(conf, key, def, [key](const json& v) -> Result<double> {
        if (v.is_number())
            return v.get<double>();
        return type_error(key, "float", v);
    });
}

Result<bool> get_bool(const json& conf, std::string_view key, bool def)
{
    return get_typed<bool>(conf, key, def, [key](const json& v) -> Result<bool> {
        if (v.is_boolean())
            return v.get<bool>();
        return type_error(key, "boolean", v);
    });
}

Result<std::string> get_string(const json& conf, std::string_view key, std::string_view def)
{
    return get_typed<std::string>(
        conf, key, std::string(def), [key](const json& v) -> Result<std::string> {
            if (v.is_string())
                return v.get<std::string>();
            return type_error(key, "string", v);
        });
}

Result<void> check_known(const nlohmann::json& conf)
{
    if (!conf.is_object())
        return fail(EINVAL, "configuration must be a table");
    // Tables this implementation reads, with every key it accepts.
    static const std::pair<std::string_view, std::vector<std::string_view>> ours[] = {
        {"access", {"allow-guest-user", "allow-root-owner"}},
        {"tbon",
         {"fanout", "topo", "keepalive_period", "lost_timeout", "interface-hint", "zmqdebug", "tcp_user_timeout",
          "connect_timeout", "torpid_min", "torpid_max", "prefertcp", "child_rcvhwm"}},
        {"resource", {"path", "config", "exclude", "noverify", "verify", "norestrict", "rediscover", "scheduling"}},
        {"sched-simple", {"alloc-mode"}},
        {"exec",
         {"kill-timeout", "term-signal", "kill-signal", "max-kill-count", "job-shell", "imp", "service",
          "service-override", "barrier-timeout", "sdexec-properties", "sdexec-stop-timer-sec",
          "sdexec-stop-timer-signal", "testexec"}},
    };
    // flux-core's other tables: accepted, not interpreted.
    static const std::string_view theirs[] = {"bootstrap",
                                              "job-manager",
                                              "policy",
                                              "queues",
                                              "ingest",
                                              "kvs",
                                              "content",
                                              "archive",
                                              "cron",
                                              "systemd",
                                              "heartbeat",
                                              "job-list",
                                              "job-info",
                                              "broker",
                                              "cray-pals",
                                              "sched-fluxion-qmanager",
                                              "sched-fluxion-resource",
                                              "sched-fluxion-feasibility",
                                              "content-sqlite",
                                              "job-validator",
                                              "jobspec-update",
                                              "housekeeping",
                                              "log",
                                              "sched"};
    for (const auto& [table, value] : conf.items()) {
        auto known = std::find_if(std::begin(ours), std::end(ours), [&](const auto& t) { return t.first == table; });
        if (known == std::end(ours)) {
            if (std::find(std::begin(theirs), std::end(theirs), table) == std::end(theirs))
                return fail(EINVAL, "unknown configuration table '" + table + "'");
            continue;
        }
        if (!value.is_object())
            return fail(EINVAL, "configuration '" + table + "' must be a table");
        for (const auto& [key, v] : value.items())
            if (std::find(known->second.begin(), known->second.end(), key) == known->second.end())
                return fail(EINVAL, "unknown configuration key '" + table + "." + key + "'");
    }
    return {};
}

}  // namespace flux::conf
