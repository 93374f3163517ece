// Rlist from the flux-config-resource(5) [[resource.config]] array.
#include "flux/rlist.hpp"

#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rlist_internal.hpp"

namespace flux {

using nlohmann::json;
using rlist_detail::SetOp;
using rlist_detail::SetOpCache;
using rlist_detail::share;

namespace {

std::unexpected<Error> invalid(std::string text)
{
    return fail(EINVAL, std::move(text));
}

// One [[resource.config]] table, checked but not yet applied.
struct Entry {
    const std::string* hosts = nullptr;
    const std::string* cores = nullptr;
    const std::string* gpus = nullptr;
    std::vector<std::string> properties;
};

Result<Entry> read_entry(const json& table, const std::string& where)
{
    if (!table.is_object())
        return invalid(where + ": entry must be a table");
    Entry e;
    for (const auto& [key, val] : table.items()) {
        if (key == "hosts" || key == "cores" || key == "gpus") {
            if (!val.is_string())
                return invalid(fmt::format("{}: {} must be a string", where, key));
            const std::string* s = &val.get_ref<const std::string&>();
            (key == "hosts" ? e.hosts : key == "cores" ? e.cores : e.gpus) = s;
        } else if (key == "properties") {
            if (!val.is_array())
                return invalid(where + ": properties must be an array");
            for (const json& p : val) {
                if (!p.is_string() || p.get_ref<const std::string&>().empty() ||
                    rlist_detail::invalid_property_char(p.get_ref<const std::string&>()))
                    return invalid(fmt::format("{}: invalid property {}", where,
                                               p.dump(-1, ' ', false, json::error_handler_t::replace)));
                e.properties.push_back(p.get<std::string>());
            }
        } else {
            return invalid(fmt::format("{}: unknown key '{}'", where, key));
        }
    }
    if (!e.hosts)
        return invalid(where + ": missing required key 'hosts'");
    return e;
}

Result<IdSet> parse_ids(const std::string* text, const char* what, const std::string& where)
{
    if (!text)
        return IdSet{};
    auto ids = IdSet::parse(*text);
    if (!ids)
        return invalid(fmt::format("{}: invalid idset {}='{}': {}", where, what, *text, ids.error().text));
    return ids;
}

}  // namespace

Result<Rlist> Rlist::from_config(const json& config)
{
    if (!config.is_array())
        return invalid("resource config must be an array");
    Rlist out;
    std::unordered_map<std::string, std::uint32_t> rank_of_host;
    SetOpCache core_union(SetOp::unite);
    SetOpCache gpu_union(SetOp::unite);
    for (std::size_t i = 0; i < config.size(); i++) {
        std::string where = fmt::format("config[{}]", i);
        auto entry = read_entry(config[i], where);
        if (!entry)
            return std::unexpected(entry.error());
        auto hosts = Hostlist::parse(*entry->hosts);
        if (!hosts)
            return invalid(fmt::format("{}: invalid hostlist '{}': {}", where, *entry->hosts, hosts.error().text));
        if (hosts->empty())
            return invalid(where + ": empty hostlist specified");
        if (hosts->size() > max_targets)
            return invalid(fmt::format("{}: too many hosts (limit {})", where, max_targets));
        auto cores = parse_ids(entry->cores, "cores", where);
        if (!cores)
            return std::unexpected(cores.error());
        auto gpus = parse_ids(entry->gpus, "gpus", where);
        if (!gpus)
            return std::unexpected(gpus.error());
        SetPtr core_ptr = share(std::move(*cores));
        SetPtr gpu_ptr = share(std::move(*gpus));

        // A host's rank is its position in the order hosts first appear.
        IdSet entry_ranks;
        for (std::string host : *hosts) {
            auto [it, inserted] = rank_of_host.try_emplace(host, static_cast<std::uint32_t>(out.nodes_.size()));
            if (inserted) {
                if (out.nodes_.size() >= max_targets)
                    return invalid(fmt::format("{}: too many hosts (limit {})", where, max_targets));
                out.nodes_.push_back(Node{it->second, std::move(host), nullptr, nullptr});
            }
            Node& n = out.nodes_[it->second];
            n.cores = core_union.apply(n.cores, core_ptr);
            n.gpus = gpu_union.apply(n.gpus, gpu_ptr);
            if (!entry->properties.empty())
                (void)entry_ranks.insert(n.rank);
        }
        for (const std::string& name : entry->properties)
            out.properties_[name] |= entry_ranks;
    }
    if (out.nodes_.empty())
        return invalid("no hosts configured");
    Hostlist idle;
    for (const Node& n : out.nodes_) {
        if (!n.has_resources())
            (void)idle.append(n.hostname);
    }
    if (!idle.empty())
        return invalid(fmt::format("resource.config: {} assigned no resources", idle.encode()));
    return out;
}

}  // namespace flux
