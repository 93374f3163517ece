// resource: what the instance manages. Every rank reports its node (hwloc)
// unless R is configured or given; rank 0 keeps the inventory (R), which
// ranks are up, drained or excluded, persists drain state in an eventlog,
// and serves the RFC 28 acquisition protocol to the scheduler.
// The handler table is at the bottom of this file.
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/hostlist.hpp>
#include <flux/idset.hpp>
#include <flux/module.hpp>
#include <flux/rlist.hpp>

#include "discover.hpp"
#include "eventlog.hpp"

namespace flux::resource {

using json = nlohmann::json;

namespace {

double wall_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result<std::string> read_file(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
        return fail(ENOENT, fmt::format("{}: cannot read file", path));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Drain {
    double timestamp = 0;
    std::string reason;
};

class Resource {
public:
    Resource(Handle& h, uint32_t rank, uint32_t size) : h_(h), rank_(rank), size_(size) {}
    bool is_rank0() const { return rank_ == 0; }

    // Set up from config and attributes; false (after logging why) on error.
    Result<void> init();
    void status(const Message& m);
    void drain(const Message& m);
    void undrain(const Message& m);
    void acquire(const Message& m);
    void eventlog(const Message& m);
    void reg(const Message& m);
    void disconnect(const Message& m);

private:
    Result<IdSet> parse_targets(const std::string& targets) const;
    void define(Rlist R, const std::string& method);
    void maybe_define_discovered();
    void on_online(const IdSet& online);
    IdSet up_set() const;
    void notify_acquirers();
    bool defer_until_defined(const Message& m, void (Resource::*fn)(const Message&));
    Result<void> read_verify(const json& rconf, bool given);
    Result<void> report_local();
    Result<void> verify_self();
    void verify_rank(uint32_t rank, const std::string& hostname, const LocalResources& found);
    Result<void> apply_drain(const IdSet& ids, const std::string& reason, const std::string& mode);

    Handle& h_;
    uint32_t rank_, size_;
    json config_;
    std::optional<Rlist> R_;
    std::map<uint32_t, std::pair<std::string, LocalResources>> reported_;  // dynamic discovery
    IdSet online_;
    IdSet excluded_;
    std::string exclude_spec_;
    // Check configured cores against each node's hardware: not at all,
    // warning (in the log) about nodes whose configured hostname is the real
    // one, or draining every node that misses configured cores.
    enum class Verify { off, warn, drain } verify_ = Verify::off;
    std::map<uint32_t, Drain> drained_;
    EventlogFile log_;
    Future monitor_;
    struct Acquirer {
        Message req;
        IdSet up;  // what it was last told
    };
    std::vector<Acquirer> acquirers_;
    std::vector<std::pair<Message, void (Resource::*)(const Message&)>> waiting_;
};

Result<void> Resource::init()
{
    auto c = h_.rpc("config.get", "{}", NODEID_ANY).get();
    if (!c)
        return std::unexpected(c.error());
    config_ = json::parse(c->payload);
    json rconf = config_.value("resource", json::object());
    if (!rconf.is_object())
        return fail(EINVAL, "[resource] must be a table");
    for (auto& [k, v] : rconf.items()) {
        static const char* known[] = {"path",   "config",     "exclude",    "noverify",
                                      "verify", "norestrict", "rediscover", "scheduling"};
        if (std::find_if(std::begin(known), std::end(known), [&](const char* n) { return k == n; }) == std::end(known))
            return fail(EINVAL, fmt::format("[resource]: unknown key '{}'", k));
    }
    if (rconf.contains("exclude")) {
        const auto& ex = rconf["exclude"];
        if (ex.is_number_unsigned())  // --conf=resource.exclude=3 arrives as a number
            exclude_spec_ = std::to_string(ex.get<uint64_t>());
        else if (ex.is_string())
            exclude_spec_ = ex.get<std::string>();
        else
            return fail(EINVAL, "[resource] exclude must be a string (idset or hostlist)");
    }
    // R given by a parent instance (a child instance's allocation).
    auto given_R = h_.getattr("resource.R");
    bool given = given_R.has_value();
    if (auto r = read_verify(rconf, given); !r)
        return r;
    if (rank_ != 0) {
        // Given or configured R is rank 0's business; otherwise (or to have
        // the configuration verified) report our node.
        bool from_elsewhere = given || rconf.contains("path") || rconf.contains("config");
        if (from_elsewhere && verify_ == Verify::off)
            return {};
        return report_local();
    }

    // Rank 0: persistent state first, so drains survive restarts.
    auto statedir = h_.getattr("statedir");
    auto lf = EventlogFile::open(statedir ? *statedir + "/resource.eventlog" : "");
    if (!lf)
        return std::unexpected(lf.error());
    log_ = std::move(*lf);
    for (const auto& e : log_.entries()) {
        const auto ctx = e.value("context", json::object());
        auto ids = IdSet::parse(ctx.value("idset", ""));
        if (!ids)
            continue;
        std::string name = e["name"].get<std::string>();
        for (uint32_t r : *ids) {
            if (name == "drain")
                drained_[r] = Drain{e.value("timestamp", 0.0), ctx.value("reason", "")};
            else if (name == "undrain")
                drained_.erase(r);
        }
    }

    auto hl_attr = h_.getattr("hostlist");
    auto hosts = Hostlist::parse(hl_attr ? *hl_attr : "");
    std::optional<std::string> path;
    if (given)
        path = *given_R;
    else if (rconf.contains("path"))
        path = rconf["path"].is_string() ? rconf["path"].get<std::string>() : "";
    if (path) {
        auto text = read_file(*path);
        if (!text)
            return std::unexpected(text.error());
        auto R = Rlist::parse(*text);
        if (!R)
            return fail(EINVAL, fmt::format("{}: {}", *path, R.error().text));
        if (given)
            R->rerank();  // a child instance's ranks are 0..n-1, whatever the parent's were
        // A given R must match the brokers exactly. A configured one may name
        // more nodes than there are brokers (they stay down), not fewer.
        if ((given && R->nnodes() != size_) || R->nnodes() < size_)
            return fail(EINVAL, fmt::format("{}: R has {} node(s) but the instance has {} broker(s)", *path,
                                            R->nnodes(), size_));
        define(std::move(*R), given ? "job" : "configuration");
        if (auto r = verify_self(); !r)
            return r;
    } else if (rconf.contains("config")) {
        auto R = Rlist::from_config(rconf["config"]);
        if (!R)
            return fail(EINVAL, fmt::format("[[resource.config]]: {}", R.error().text));
        if (hosts && !hosts->empty()) {
            if (auto r = R->rerank(*hosts); !r)
                return fail(EINVAL, fmt::format("[[resource.config]] hosts do not match the instance's hosts {}: {}",
                                                hosts->encode(), r.error().text));
        }
        define(std::move(*R), "configuration");
        if (auto r = verify_self(); !r)
            return r;
    } else {
        auto local = discover();
        if (!local)
            return std::unexpected(local.error());
        auto host = h_.getattr("hostname");
        reported_[0] = {host ? *host : "", *local};
        maybe_define_discovered();
    }
    // Follow which ranks are up.
    monitor_ = h_.rpc("overlay.monitor", "{}", 0, msgflag::streaming);
    monitor_.then([this](Future& f) {
        while (f.ready()) {
            auto r = f.get();
            f.reset();
            if (!r) {
                h_.log(3, "resource: overlay.monitor: " + r.error().message());
                return;
            }
            auto ids = IdSet::parse(json::parse(r->payload).value("online", ""));
            if (ids)
                on_online(*ids);
        }
    });
    return {};
}

// Configured resources checked against what each node really has (cores
// only: hwloc may not see GPUs, as flux-core also decided).
// - `verify = true`: a node missing configured cores is drained, as
//   flux-core does unless `noverify` is set.
// - By default jobs still run on such a node (a configuration may describe
//   more than the hardware on purpose, the way a 2-core test machine poses
//   as 20-core nodes): the broker log gets one warning per node, and only
//   for a node that is the host the configuration names (its broker's
//   hostname is the machine's real one and R gives it that name), not for
//   made-up hosts that are all this machine.
// - `verify = false` or `noverify = true`: nothing is checked.
// A given R (a child instance's allocation) is never checked.
Result<void> Resource::read_verify(const json& rconf, bool given)
{
    for (const char* key : {"verify", "noverify"})
        if (rconf.contains(key) && !rconf[key].is_boolean())
            return fail(EINVAL, fmt::format("[resource] {} must be true or false", key));
    bool configured = rconf.contains("path") || rconf.contains("config");
    if (given || !configured) {
        verify_ = Verify::off;
    } else if (rconf.contains("verify")) {
        verify_ = rconf["verify"].get<bool>() ? Verify::drain : Verify::off;
    } else if (rconf.contains("noverify") && rconf["noverify"].get<bool>()) {
        verify_ = Verify::off;
    } else {
        char real[256] = "";
        (void)gethostname(real, sizeof(real) - 1);
        auto host = h_.getattr("hostname");
        verify_ = host && *host == real ? Verify::warn : Verify::off;
    }
    return {};
}

// Ranks other than 0: tell rank 0 what this node has.
Result<void> Resource::report_local()
{
    auto local = discover();
    if (!local)
        return std::unexpected(local.error());
    auto host = h_.getattr("hostname");
    json j{{"rank", rank_},
           {"hostname", host ? *host : ""},
           {"cores", local->cores.encode()},
           {"gpus", local->gpus.encode()}};
    auto f = h_.rpc("resource.register", j.dump(), 0);
    f.then([this](Future& fut) {
        // ENOSYS: rank 0 is already shutting down (a short-lived instance).
        if (auto r = fut.get(); !r)
            h_.log(r.error().errnum == ENOSYS ? 7 : 3, "resource: cannot register with rank 0: " + r.error().message());
    });
    return {};
}

// Rank 0's own node.
Result<void> Resource::verify_self()
{
    if (verify_ == Verify::off)
        return {};
    auto local = discover();
    if (!local)
        return std::unexpected(local.error());
    auto host = h_.getattr("hostname");
    verify_rank(0, host ? *host : "", *local);
    return {};
}

void Resource::verify_rank(uint32_t rank, const std::string& hostname, const LocalResources& found)
{
    auto want = R_->cores_of(rank);
    if (!want)
        return;  // a rank the configuration does not describe
    auto host = R_->hostname_of(rank);
    if (verify_ == Verify::warn && (!host || *host != hostname))
        return;  // the configuration describes some other (made-up) host
    IdSet missing = *want - found.cores;
    if (missing.empty())
        return;
    std::string reason = fmt::format("rank {} ({}) is missing configured core {} (it has core {})", rank,
                                     host && !host->empty() ? *host : "?", missing.encode(), found.cores.encode());
    if (verify_ == Verify::warn) {
        h_.log(4,
               fmt::format("resource: verify: {}; jobs may still use them (resource.verify = true drains such nodes)",
                           reason));
        return;
    }
    h_.log(3, "resource: verify: " + reason);
    IdSet ids;
    (void)ids.insert(rank);
    if (auto r = apply_drain(ids, reason, "update"); !r)
        h_.log(3, "resource: verify: cannot drain: " + r.error().message());
    else
        notify_acquirers();
}

void Resource::define(Rlist R, const std::string& method)
{
    // Exclusions name ranks or hosts of this R.
    if (!exclude_spec_.empty()) {
        if (auto ids = IdSet::parse(exclude_spec_)) {
            excluded_ = *ids;
        } else if (auto hl = Hostlist::parse(exclude_spec_)) {
            for (const auto& host : hl->expand()) {
                if (auto r = R.rank_of(host))
                    (void)excluded_.insert(*r);
                else
                    h_.log(3, fmt::format("resource: exclude: unknown host '{}'", host));
            }
        } else {
            h_.log(3, fmt::format("resource: exclude '{}' is neither an idset nor a hostlist", exclude_spec_));
        }
    }
    // A drained rank that no longer exists is forgotten.
    IdSet ranks = R.ranks();
    std::erase_if(drained_, [&](const auto& d) { return !ranks.contains(d.first); });
    R_ = std::move(R);
    (void)log_.append("resource-define", json{{"method", method}});
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& [m, fn] : waiting)
        (this->*fn)(m);
}

bool Resource::defer_until_defined(const Message& m, void (Resource::*fn)(const Message&))
{
    if (R_)
        return false;
    waiting_.emplace_back(m, fn);
    return true;
}

void Resource::on_online(const IdSet& online)
{
    online_ = online;
    notify_acquirers();
}

IdSet Resource::up_set() const
{
    if (!R_)
        return {};
    IdSet up = R_->ranks() & online_;
    up -= excluded_;
    for (const auto& [r, d] : drained_)
        up.erase(r);
    return up;
}

void Resource::notify_acquirers()
{
    IdSet up = up_set();
    for (auto& a : acquirers_) {
        IdSet went_up = up - a.up;
        IdSet went_down = a.up - up;
        if (went_up.empty() && went_down.empty())
            continue;
        json j = json::object();
        if (!went_up.empty())
            j["up"] = went_up.encode();
        if (!went_down.empty())
            j["down"] = went_down.encode();
        a.up = up;
        (void)h_.respond(a.req, j.dump());
    }
}

Result<IdSet> Resource::parse_targets(const std::string& targets) const
{
    if (auto ids = IdSet::parse(targets)) {
        for (uint32_t r : *ids)
            if (!R_->ranks().contains(r))
                return fail(ENOENT, fmt::format("rank {} is not in this instance", r));
        return *ids;
    }
    auto hl = Hostlist::parse(targets);
    if (!hl)
        return fail(EINVAL, fmt::format("'{}' is neither an idset of ranks nor a hostlist", targets));
    IdSet ids;
    for (const auto& host : hl->expand()) {
        auto r = R_->rank_of(host);
        if (!r)
            return fail(ENOENT, fmt::format("unknown host '{}'", host));
        (void)ids.insert(*r);
    }
    return ids;
}

void Resource::status(const Message& m)
{
    if (defer_until_defined(m, &Resource::status))
        return;
    json drains = json::array();
    for (const auto& [r, d] : drained_)
        drains.push_back({{"rank", r}, {"timestamp", d.timestamp}, {"reason", d.reason}});
    json out{{"R", json::parse(R_->to_json())},
             {"online", (online_ & R_->ranks()).encode()},
             {"excluded", excluded_.encode()},
             {"drained", drains}};
    (void)h_.respond(m, out.dump(-1, ' ', false, json::error_handler_t::replace));
}

void Resource::drain(const Message& m)
{
    if (defer_until_defined(m, &Resource::drain))
        return;
    auto j = json::parse(m.payload);
    std::string targets = j.at("targets").get<std::string>();
    std::string reason = j.value("reason", "");
    std::string mode = j.value("mode", "");
    auto ids = parse_targets(targets);
    if (!ids) {
        (void)h_.respond_error(m, ids.error().errnum, ids.error().text);
        return;
    }
    IdSet already;
    for (uint32_t r : *ids) {
        if (excluded_.contains(r)) {
            (void)h_.respond_error(m, EINVAL, fmt::format("rank {} is excluded by configuration", r));
            return;
        }
        if (drained_.contains(r))
            (void)already.insert(r);
    }
    if (!already.empty() && mode.empty()) {
        (void)h_.respond_error(m, EEXIST, fmt::format("rank(s) {} already drained", already.encode()));
        return;
    }
    if (auto r = apply_drain(*ids, reason, mode); !r) {
        (void)h_.respond_error(m, r.error().errnum, r.error().text);
        return;
    }
    notify_acquirers();
    (void)h_.respond(m, "{}");
}

// Drain `ids` (mode "" or "update": keep an existing drain as it is;
// "force": replace its reason; "force-timestamp": and its time) and log it.
Result<void> Resource::apply_drain(const IdSet& ids, const std::string& reason, const std::string& mode)
{
    IdSet changed;
    double now = wall_now();
    for (uint32_t r : ids) {
        auto it = drained_.find(r);
        if (it == drained_.end())
            drained_[r] = Drain{now, reason};
        else if (mode == "force" || mode == "force-timestamp") {
            it->second.reason = reason;
            if (mode == "force-timestamp")
                it->second.timestamp = now;
        } else {
            continue;  // update: leave it as it was
        }
        (void)changed.insert(r);
    }
    if (!changed.empty()) {
        Hostlist hl;
        for (uint32_t r : changed)
            if (auto host = R_->hostname_of(r))
                (void)hl.append(*host);
        json ctx{{"idset", changed.encode()},
                 {"nodelist", hl.encode()},
                 {"reason", reason},
                 {"overwrite", mode.empty() || mode == "update" ? 0
                               : mode == "force"                ? 1
                                                                : 2}};
        if (auto r = log_.append("drain", ctx); !r)
            return std::unexpected(r.error());
    }
    return {};
}

void Resource::undrain(const Message& m)
{
    if (defer_until_defined(m, &Resource::undrain))
        return;
    auto j = json::parse(m.payload);
    auto ids = parse_targets(j.at("targets").get<std::string>());
    if (!ids) {
        (void)h_.respond_error(m, ids.error().errnum, ids.error().text);
        return;
    }
    bool force = j.value("force", false);
    IdSet notdrained, changed;
    for (uint32_t r : *ids) {
        if (drained_.contains(r))
            (void)changed.insert(r);
        else
            (void)notdrained.insert(r);
    }
    if (!notdrained.empty() && !force) {
        (void)h_.respond_error(m, EINVAL, fmt::format("rank(s) {} not drained", notdrained.encode()));
        return;
    }
    if (!changed.empty()) {
        for (uint32_t r : changed)
            drained_.erase(r);
        Hostlist hl;
        for (uint32_t r : changed)
            if (auto host = R_->hostname_of(r))
                (void)hl.append(*host);
        if (auto r = log_.append("undrain", json{{"idset", changed.encode()}, {"nodelist", hl.encode()}}); !r) {
            (void)h_.respond_error(m, r.error().errnum, r.error().text);
            return;
        }
    }
    notify_acquirers();
    (void)h_.respond(m, "{}");
}

void Resource::acquire(const Message& m)
{
    if (!m.has_flag(msgflag::streaming)) {
        (void)h_.respond_error(m, EPROTO, "resource.acquire requires a streaming request");
        return;
    }
    if (defer_until_defined(m, &Resource::acquire))
        return;
    Rlist avail = *R_;
    avail.remove_ranks(excluded_);
    IdSet up = up_set();
    (void)h_.respond(m, json{{"resources", json::parse(avail.to_json())}, {"up", up.encode()}}.dump());
    acquirers_.push_back({m, up});
}

void Resource::eventlog(const Message& m)
{
    (void)h_.respond(m, json{{"eventlog", log_.text()}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

void Resource::reg(const Message& m)
{
    auto j = json::parse(m.payload);
    uint32_t r = j.at("rank").get<uint32_t>();
    auto cores = IdSet::parse(j.at("cores").get<std::string>());
    auto gpus = IdSet::parse(j.value("gpus", ""));
    if (r >= size_ || !cores || !gpus) {
        (void)h_.respond_error(m, EINVAL, "resource.register: bad rank or idsets");
        return;
    }
    (void)h_.respond(m, "{}");
    if (R_) {  // R was defined already (configured, or everyone reported)
        if (verify_ != Verify::off)
            verify_rank(r, j.value("hostname", ""), LocalResources{*cores, *gpus});
        return;
    }
    reported_[r] = {j.value("hostname", ""), LocalResources{*cores, *gpus}};
    maybe_define_discovered();
}

// Dynamic discovery: R is known once every rank has reported.
void Resource::maybe_define_discovered()
{
    if (R_ || reported_.size() < size_ || !reported_.contains(0))
        return;
    Rlist R;
    for (const auto& [rank, hr] : reported_)
        (void)R.add_node(rank, hr.first, hr.second.cores, hr.second.gpus);
    define(std::move(R), "dynamic-discovery");
    notify_acquirers();
}

void Resource::disconnect(const Message& m)
{
    std::erase_if(acquirers_, [&](const Acquirer& a) { return a.req.route == m.route; });
    std::erase_if(waiting_, [&](const auto& w) { return w.first.route == m.route; });
}

int resource_main(Handle& h, const std::vector<std::string>&)
{
    struct Entry {
        const char* topic;
        void (Resource::*fn)(const Message&);
        uint32_t roles;
    };
    static const Entry table[] = {
        {"resource.status", &Resource::status, role::all},
        {"resource.acquire", &Resource::acquire, role::owner},
        {"resource.drain", &Resource::drain, role::owner},
        {"resource.undrain", &Resource::undrain, role::owner},
        {"resource.eventlog", &Resource::eventlog, role::all},
        {"resource.register", &Resource::reg, role::owner},
        {"resource.disconnect", &Resource::disconnect, role::all},
    };
    // Installed before the first RPC: other ranks may register with us
    // while we are still setting up; such requests wait until we are.
    std::unique_ptr<Resource> res;
    std::vector<std::pair<Message, void (Resource::*)(const Message&)>> early;
    auto call = [&h](Resource& r, void (Resource::*fn)(const Message&), const Message& m) {
        try {
            (r.*fn)(m);
        } catch (const std::exception& ex) {
            (void)h.respond_error(m, EPROTO, fmt::format("{}: malformed request: {}", m.topic, ex.what()));
        }
    };
    for (const auto& e : table) {
        h.add_handler(
            MsgType::request, e.topic,
            [&, fn = e.fn](const Message& m) {
                if (!res) {
                    early.emplace_back(m, fn);
                    return;
                }
                if (!res->is_rank0() && fn != &Resource::disconnect) {
                    (void)h.respond_error(m, EHOSTUNREACH, fmt::format("{} is served by rank 0", m.topic));
                    return;
                }
                call(*res, fn, m);
            },
            e.roles);
    }
    auto rank = h.rank();
    auto size = h.size();
    if (!rank || !size) {
        h.log(3, "resource: cannot get rank/size");
        return -1;
    }
    res = std::make_unique<Resource>(h, *rank, *size);
    if (auto r = res->init(); !r) {
        h.log(2, "resource: " + r.error().message());
        return -1;
    }
    for (auto& [m, fn] : early) {
        if (res->is_rank0() || fn == &Resource::disconnect)
            call(*res, fn, m);
        else
            (void)h.respond_error(m, EHOSTUNREACH, fmt::format("{} is served by rank 0", m.topic));
    }
    early.clear();
    return h.reactor().run();
}

}  // namespace

}  // namespace flux::resource

FLUX_MODULE("resource", flux::resource::resource_main)
