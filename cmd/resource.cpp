// flux resource list|status|info|R|drain|undrain|eventlog: the instance's
// resources as the scheduler and the resource service see them.
#include <time.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <flux/hostlist.hpp>
#include <flux/idset.hpp>
#include <flux/rlist.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "format.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {

constexpr const char* CMD = "resource";

// Everything the views are computed from.
struct View {
    Rlist all;   // R less excluded ranks
    Rlist full;  // R as defined
    IdSet online, excluded;
    IdSet allocated;                                             // ranks with any allocated resource
    Rlist alloc;                                                 // the allocated resources themselves
    std::map<uint32_t, std::pair<double, std::string>> drained;  // rank -> (timestamp, reason)
};

View fetch(Handle& h)
{
    auto r = h.rpc("resource.status", "{}", 0).get();
    if (!r)
        die(CMD, fmt::format("resource.status: {}", r.error().message()));
    auto j = json::parse(r->payload);
    View v;
    auto R = Rlist::from_json(j.at("R"));
    if (!R)
        die(CMD, R.error().message());
    v.full = *R;
    v.online = IdSet::parse(j.value("online", "")).value_or(IdSet());
    v.excluded = IdSet::parse(j.value("excluded", "")).value_or(IdSet());
    for (const auto& d : j.value("drained", json::array()))
        v.drained[d.at("rank").get<uint32_t>()] = {d.value("timestamp", 0.0), d.value("reason", "")};
    v.all = v.full;
    v.all.remove_ranks(v.excluded);
    // Allocations come from the scheduler, when one is loaded.
    auto s = h.rpc("sched.resource-status", "{}", 0).get(5);
    if (s) {
        auto sj = json::parse(s->payload);
        if (sj.contains("allocated") && sj["allocated"].is_object())
            if (auto A = Rlist::from_json(sj["allocated"])) {
                v.allocated = A->ranks();
                v.alloc = std::move(*A);
            }
    }
    return v;
}

Result<IdSet> targets_to_ranks(const View& v, const std::string& targets)
{
    if (auto ids = IdSet::parse(targets))
        return *ids;
    auto hl = Hostlist::parse(targets);
    if (!hl)
        return fail(EINVAL, fmt::format("'{}' is neither an idset nor a hostlist", targets));
    IdSet ids;
    for (const auto& host : hl->expand())
        if (auto r = v.full.rank_of(host))
            (void)ids.insert(*r);
    return ids;
}

// Property names of one rank, comma-separated ("" if none).
std::string properties_text(const Rlist& R, uint32_t rank)
{
    std::string out;
    if (auto names = R.properties_of(rank))
        for (const auto& n : *names)
            out += (out.empty() ? "" : ",") + n;
    return out;
}

Row resource_row(const std::string& state, const std::string& props, const Rlist& R)
{
    Row row;
    row["state"] = state;
    row["nnodes"] = static_cast<long long>(R.nnodes());
    row["ncores"] = static_cast<long long>(R.ncores());
    row["ngpus"] = static_cast<long long>(R.ngpus());
    row["nodelist"] = R.nnodes() ? R.nodelist().encode() : std::string();
    row["ranks"] = R.ranks().encode();
    row["properties"] = props;
    row["propertiesx"] = props;  // there are no queues to leave out
    row["queue"] = std::string();
    row["rlist"] = R.to_string();
    return row;
}

const std::map<std::string, std::string> list_fields = {
    {"state", "STATE"},       {"nnodes", "NNODES"},         {"ncores", "NCORES"},         {"ngpus", "NGPUS"},
    {"nodelist", "NODELIST"}, {"ranks", "RANKS"},           {"properties", "PROPERTIES"}, {"rlist", "LIST"},
    {"queue", "QUEUE"},       {"propertiesx", "PROPERTIES"}};
const std::map<std::string, std::string> status_fields = {
    {"state", "STATE"}, {"statex", "STATE"},      {"status", "STATUS"},       {"up", "UP"},        {"nnodes", "NNODES"},
    {"ranks", "RANKS"}, {"nodelist", "NODELIST"}, {"timestamp", "TIMESTAMP"}, {"reason", "REASON"}};

std::vector<std::string> split(const std::string& s)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t c = s.find(',', start);
        std::string p = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
        if (!p.empty())
            out.push_back(p);
        if (c == std::string::npos)
            break;
        start = c + 1;
    }
    return out;
}

// Scheduler view: the ranks that are all, up or down (allocation is per
// core: see resources_in).
IdSet ranks_in(const View& v, const std::string& state)
{
    IdSet all = v.all.ranks();
    IdSet up = all & v.online;
    for (const auto& [r, d] : v.drained)
        up.erase(r);
    if (state == "all")
        return all;
    if (state == "up")
        return up;
    if (state == "down")
        return all - up;
    return {};
}

// Scheduler view: the resources in a state. Allocation is per core, so a
// node partly allocated is in both "allocated" and "free".
Rlist resources_in(const View& v, const std::string& state)
{
    if (state == "allocated")
        return v.all.intersection(v.alloc).value_or(Rlist());
    if (state == "free") {
        Rlist up = v.all.copy_ranks(ranks_in(v, "up"));
        return up.difference(v.alloc).value_or(up);
    }
    return v.all.copy_ranks(ranks_in(v, state));
}

int do_list(Handle& h, const std::string& states_s, const std::string& include, const std::string& fmt_s, bool noheader,
            bool skip_empty)
{
    const std::vector<std::string> valid = {"up", "down", "allocated", "free", "all"};
    auto states = split(states_s);
    for (const auto& s : states)
        if (std::find(valid.begin(), valid.end(), s) == valid.end())
            die(CMD, fmt::format("invalid resource state '{}' (use up, down, allocated, free, all)", s));
    auto f = OutputFormat::parse(fmt_s, list_fields);
    if (!f)
        die(CMD, f.error().message());
    View v = fetch(h);
    IdSet filter = v.all.ranks();
    if (!include.empty()) {
        auto ids = targets_to_ranks(v, include);
        if (!ids)
            die(CMD, ids.error().message());
        filter &= *ids;
    }
    // One line per distinct value of the fields that are not counts or
    // lists (state, properties), as flux-core combines them: a format
    // without {state} sums the states, one with {properties} splits a state
    // by property set.
    auto used = f->fields();
    auto uses = [&](const char* name) { return std::find(used.begin(), used.end(), name) != used.end(); };
    bool by_state = uses("state");
    bool by_props = uses("properties") || uses("propertiesx") || uses("queue");
    struct Line {
        std::string state, props;
        Rlist R;
    };
    std::vector<Line> lines;
    auto add = [&](const std::string& state, const std::string& props, const Rlist& R) {
        std::string key_state = by_state ? state : "";
        for (auto& l : lines) {
            if (l.state == key_state && l.props == props) {
                l.R = l.R.union_with(R).value_or(l.R);
                return;
            }
        }
        lines.push_back({key_state, props, R});
    };
    for (const auto& s : states) {
        Rlist R = resources_in(v, s).copy_ranks(filter);
        if (!by_props || R.empty()) {
            add(s, "", R);
            continue;
        }
        std::vector<std::pair<std::string, IdSet>> parts;  // in order of first rank
        for (uint32_t r : R.ranks()) {
            std::string p = properties_text(R, r);
            auto it = std::find_if(parts.begin(), parts.end(), [&](const auto& e) { return e.first == p; });
            if (it == parts.end())
                it = parts.insert(parts.end(), {p, IdSet()});
            (void)it->second.insert(r);
        }
        for (const auto& [p, ids] : parts)
            add(s, p, R.copy_ranks(ids));
    }
    std::vector<Row> rows;
    for (const auto& l : lines)
        if (!skip_empty || l.R.nnodes() > 0)
            rows.push_back(resource_row(l.state, l.props, l.R));
    OutputFormat out = f->filter(rows, noheader);
    if (!noheader)
        fmt::print("{}\n", out.header());
    for (const auto& row : rows)
        fmt::print("{}\n", out.format(row));
    return 0;
}

// System view rows: (state, online) groups.
struct StatusGroup {
    std::string state;
    bool online;
    double timestamp = 0;
    std::string reason;
    IdSet ranks;
};

std::vector<StatusGroup> status_groups(const View& v, bool drains_by_reason)
{
    std::vector<StatusGroup> groups;
    auto add = [&](const std::string& state, uint32_t r, double ts = 0, const std::string& reason = "") {
        bool online = v.online.contains(r);
        for (auto& g : groups) {
            if (g.state == state && g.online == online &&
                (!drains_by_reason || (g.reason == reason && g.timestamp == ts))) {
                (void)g.ranks.insert(r);
                return;
            }
        }
        StatusGroup g{state, online, ts, reason, {}};
        (void)g.ranks.insert(r);
        groups.push_back(std::move(g));
    };
    for (uint32_t r : v.full.ranks()) {
        if (v.excluded.contains(r)) {
            add("exclude", r);
            continue;
        }
        auto d = v.drained.find(r);
        if (d != v.drained.end()) {
            add(v.allocated.contains(r) ? "draining" : "drained", r, d->second.first, d->second.second);
            continue;
        }
        // "allocated" overlaps "avail" (flux-resource(1)): an allocated
        // node is still available for scheduling.
        add("avail", r);
        if (v.allocated.contains(r))
            add("allocated", r);
    }
    return groups;
}

Row status_row(const View& v, const StatusGroup& g)
{
    Row row;
    row["state"] = g.state + (g.online ? "" : "*");
    row["statex"] = g.state;
    row["status"] = std::string(g.online ? "online" : "offline");
    const char* lang = getenv("LANG");
    bool utf8 = lang && (std::string(lang).find("UTF-8") != std::string::npos ||
                         std::string(lang).find("utf8") != std::string::npos);
    row["up"] = std::string(g.online ? (utf8 ? "✔" : "y") : (utf8 ? "✗" : "n"));
    row["nnodes"] = static_cast<long long>(g.ranks.count());
    row["ranks"] = g.ranks.encode();
    row["nodelist"] = v.full.copy_ranks(g.ranks).nodelist().encode();
    row["timestamp"] = g.timestamp;
    row["reason"] = g.reason;
    return row;
}

int do_status(Handle& h, const std::string& states_s, const std::string& include, const std::string& fmt_s,
              bool noheader, bool skip_empty, bool drain_list)
{
    const std::vector<std::string> valid = {"avail",     "exclude", "draining",     "drained", "drain",
                                            "allocated", "torpid",  "housekeeping", "offline", "online"};
    std::vector<std::string> states;
    for (const auto& s : split(states_s)) {
        if (std::find(valid.begin(), valid.end(), s) == valid.end())
            die(CMD, fmt::format("invalid resource state '{}'", s));
        if (s == "drain") {
            states.push_back("drained");
            states.push_back("draining");
        } else {
            states.push_back(s);
        }
    }
    auto f = OutputFormat::parse(fmt_s, status_fields);
    if (!f)
        die(CMD, f.error().message());
    View v = fetch(h);
    IdSet filter = v.full.ranks();
    if (!include.empty()) {
        auto ids = targets_to_ranks(v, include);
        if (!ids)
            die(CMD, ids.error().message());
        filter &= *ids;
    }
    if (!noheader)
        fmt::print("{}\n", f->header());
    auto groups = status_groups(v, drain_list);
    for (const auto& s : states) {
        bool printed = false;
        for (auto& g : groups) {
            bool match = g.state == s || (s == "online" && g.online) || (s == "offline" && !g.online);
            if (!match)
                continue;
            StatusGroup sel = g;
            sel.ranks = g.ranks & filter;
            if (sel.ranks.empty())
                continue;
            fmt::print("{}\n", f->format(status_row(v, sel)));
            printed = true;
        }
        if (!printed && !skip_empty) {
            StatusGroup empty{s, true, 0, "", {}};
            fmt::print("{}\n", f->format(status_row(v, empty)));
        }
    }
    return 0;
}

}  // namespace

int resource(int argc, char** argv)
{
    CLI::App app{"List and manipulate Flux resources", "flux resource"};
    app.require_subcommand(1);
    std::string states, include, format;
    bool noheader = false, skip_empty = false;

    auto* list = app.add_subcommand("list", "Show the scheduler view of resources");
    list->add_option("-s,--states", states, "States to show: up, down, allocated, free, all");
    list->add_option("-i,--include", include, "Only these ranks (idset) or hosts (hostlist)");
    list->add_option("-o,--format", format, "Output format");
    list->add_flag("-n,--no-header", noheader, "Suppress the header");
    list->add_flag("--skip-empty", skip_empty, "Skip states with no resources");
    auto* info = app.add_subcommand("info", "One-line summary of resources");
    info->add_option("-s,--states", states, "States to count (default all)");
    info->add_option("-i,--include", include, "Only these ranks or hosts");
    auto* rcmd = app.add_subcommand("R", "Emit the resource set (RFC 20)");
    rcmd->add_option("-s,--states", states, "States to include (default all)");
    rcmd->add_option("-i,--include", include, "Only these ranks or hosts");
    auto* status = app.add_subcommand("status", "Show the system view of resources");
    status->add_option("-s,--states", states, "States to show");
    status->add_option("-i,--include", include, "Only these ranks or hosts");
    status->add_option("-o,--format", format, "Output format");
    status->add_flag("-n,--no-header", noheader, "Suppress the header");
    status->add_flag("--skip-empty", skip_empty, "Skip empty lines");
    std::vector<std::string> dargs;
    int force = 0;
    bool update = false;
    auto* drain = app.add_subcommand("drain", "Drain TARGETS with an optional REASON, or list drained nodes");
    drain->add_flag("-f,--force", force, "Overwrite an existing drain reason (twice: and timestamp)");
    drain->add_flag("-u,--update", update, "Leave already drained targets as they are");
    drain->add_option("-o,--format", format, "Output format (listing)");
    drain->add_option("-i,--include", include, "Only these ranks or hosts (listing)");
    drain->add_flag("-n,--no-header", noheader, "Suppress the header (listing)");
    drain->add_option("args", dargs, "TARGETS [REASON...]");
    auto* undrain = app.add_subcommand("undrain", "Undrain TARGETS");
    bool uforce = false;
    undrain->add_flag("-f,--force", uforce, "Do not fail if targets are not drained");
    std::string utargets;
    undrain->add_option("targets", utargets, "Ranks (idset) or hosts (hostlist)")->required();
    auto* eventlog = app.add_subcommand("eventlog", "Show the resource eventlog");
    parse_or_exit(app, argc, argv, CMD);

    auto h = open_or_die(CMD);
    if (list->parsed()) {
        return do_list(*h, states.empty() ? "free,allocated,down" : states, include,
                       format.empty()
                           ? "{state:>10} ?:{propertiesx:<10.10+} {nnodes:>6} {ncores:>8} {ngpus:>8} {nodelist}"
                           : format,
                       noheader, skip_empty);
    }
    if (status->parsed()) {
        bool explicit_states = !states.empty();
        return do_status(*h, explicit_states ? states : "avail,exclude,draining,drained,torpid,housekeeping", include,
                         format.empty() ? "{state:>10} {up:>2} {nnodes:>6} {nodelist}" : format, noheader,
                         skip_empty || !explicit_states, false);
    }
    if (info->parsed() || rcmd->parsed()) {
        View v = fetch(*h);
        Rlist R;
        for (const auto& s : split(states.empty() ? "all" : states)) {
            const std::vector<std::string> valid = {"up", "down", "allocated", "free", "all"};
            if (std::find(valid.begin(), valid.end(), s) == valid.end())
                die(CMD, fmt::format("invalid resource state '{}'", s));
            R = R.union_with(resources_in(v, s)).value_or(R);
        }
        if (!include.empty()) {
            auto ids = targets_to_ranks(v, include);
            if (!ids)
                die(CMD, ids.error().message());
            R = R.copy_ranks(*ids);
        }
        if (rcmd->parsed()) {
            fmt::print("{}\n", R.to_json());
            return 0;
        }
        fmt::print("{} Node{}, {} Core{}, {} GPU{}\n", R.nnodes(), R.nnodes() == 1 ? "" : "s", R.ncores(),
                   R.ncores() == 1 ? "" : "s", R.ngpus(), R.ngpus() == 1 ? "" : "s");
        return 0;
    }
    if (drain->parsed()) {
        if (dargs.empty()) {
            return do_status(
                *h, "drain", include,
                format.empty() ? "{timestamp!d:%b%d %R::<12} {state:<8.8} {reason:<30.30} {nodelist}" : format,
                noheader, true, true);
        }
        std::string reason;
        for (size_t i = 1; i < dargs.size(); i++)
            reason += (i > 1 ? " " : "") + dargs[i];
        std::string mode = update ? "update" : force > 1 ? "force-timestamp" : force ? "force" : "";
        auto r =
            h->rpc("resource.drain", json{{"targets", dargs[0]}, {"reason", reason}, {"mode", mode}}.dump(), 0).get();
        if (!r)
            die(CMD, r.error().message());
        return 0;
    }
    if (undrain->parsed()) {
        auto r = h->rpc("resource.undrain", json{{"targets", utargets}, {"force", uforce}}.dump(), 0).get();
        if (!r)
            die(CMD, r.error().message());
        return 0;
    }
    if (eventlog->parsed()) {
        auto r = h->rpc("resource.eventlog", "{}", 0).get();
        if (!r)
            die(CMD, r.error().message());
        std::string text = json::parse(r->payload).value("eventlog", "");
        size_t start = 0;
        while (start < text.size()) {
            size_t nl = text.find('\n', start);
            auto e = json::parse(text.substr(start, nl - start));
            std::string ctx;
            json context = e.value("context", json::object());
            for (auto& [k, val] : context.items())
                ctx += fmt::format(" {}={}", k, val.is_string() ? val.get<std::string>() : val.dump());
            fmt::print("{:.6f} {}{}\n", e.value("timestamp", 0.0), e.value("name", ""), ctx);
            if (nl == std::string::npos)
                break;
            start = nl + 1;
        }
        return 0;
    }
    return 0;
}

}  // namespace flux::cmd
