// job-list: an in-memory index of every job (pending, running, inactive)
// built from the job manager's events journal, answering flux-core's
// job-list RPCs (list, list-id, list-attrs, job-stats) so that `flux jobs`
// never touches an eventlog. Rank 0. Protocol: doc/dev/job-list.md.
// The handler table is at the bottom of this file.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/module.hpp>

#include "constraint.hpp"
#include "index.hpp"

namespace flux::joblist {

using json = nlohmann::json;

namespace {

constexpr int LOG_ERR = 3, LOG_WARNING = 4, LOG_INFO = 6, LOG_DEBUG = 7;
constexpr double journal_retry = 1.0;    // seconds between journal attempts
constexpr double unknown_id_wait = 3.0;  // list-id: how long a valid but unseen id may wait

constexpr std::uint32_t state_active = 2 | 4 | 8 | 16 | 32;
constexpr std::uint32_t state_inactive = 64;

// Validate and normalize requested attribute names: ["all"] if "all" is
// among them, else the distinct names in order.
Result<std::vector<std::string>> parse_attrs(const json& attrs)
{
    if (!attrs.is_array())
        return fail(EPROTO, "invalid payload: attrs must be an array");
    std::vector<std::string> out;
    for (const auto& a : attrs) {
        if (!a.is_string())
            return fail(EINVAL, "attr has no string value");
        std::string s = a.get<std::string>();
        if (s == "all")
            return std::vector<std::string>{"all"};
        if (s == "id")
            continue;  // always there (flux-core would refuse it)
        if (!is_job_attr(s))
            return fail(EINVAL, fmt::format("{} is not a valid attribute", s));
        if (std::find(out.begin(), out.end(), s) == out.end())
            out.push_back(std::move(s));
    }
    return out;
}

// Old-style list request fields -> an RFC 31 constraint (flux-core's
// legacy_list_rpc): userid (0xFFFFFFFF or -1: everyone), states and
// results masks (0: any), name, queue.
json legacy_constraint(const json& req)
{
    json all = json::array();
    if (auto u = req.find("userid"); u != req.end() && u->is_number_integer()) {
        std::int64_t uid = u->get<std::int64_t>();
        if (uid != -1 && uid != userid_unknown)
            all.push_back({{"userid", {uid}}});
    }
    if (auto n = req.find("name"); n != req.end() && n->is_string())
        all.push_back({{"name", {*n}}});
    if (auto q = req.find("queue"); q != req.end() && q->is_string())
        all.push_back({{"queue", {*q}}});
    auto s = req.find("states");
    auto r = req.find("results");
    std::int64_t states = s != req.end() && s->is_number_integer() ? s->get<std::int64_t>() : 0;
    std::int64_t results = r != req.end() && r->is_number_integer() ? r->get<std::int64_t>() : 0;
    if (states)
        all.push_back({{"states", {states}}});
    if (results)
        all.push_back({{"results", {results}}});
    return json{{"and", all}};
}

class JobList {
public:
    JobList(Handle& h, bool private_mode) : h_(h), private_mode_(private_mode) {}

    void start() { subscribe(); }

    // --- requests (handler table at the bottom) ---
    void list(const Message& m);
    void list_id(const Message& m);
    void list_attrs(const Message& m);
    void job_stats(const Message& m);
    void stats_get(const Message& m);
    void disconnect(const Message& m);
    void purge(const Message& m);

private:
    struct Waiter {
        Message req;
        JobId id;
        std::vector<std::string> attrs;
        std::uint32_t state;
        double deadline = 0;  // > 0: answer ENOENT then if still unseen
    };

    void subscribe();
    void on_journal(Future& f);
    bool restricted(const Message& m) const { return private_mode_ && !(m.rolemask & role::owner); }
    bool ready(const Waiter& w, const Job* job) const;
    void answer(const Waiter& w, const Job& job);
    void check_waiters();
    void check_id(JobId id, const Message& req);
    void arm_timer();

    Handle& h_;
    bool private_mode_;
    JobIndex index_;
    Future journal_;
    TimerPtr retry_;
    std::string last_journal_error_;
    bool journal_ok_ = false;
    std::vector<Waiter> waiters_;
    TimerPtr waiter_timer_;
};

void JobList::subscribe()
{
    // "full": ask for every job's events so far before new ones (job
    // managers that cannot replay send only new events).
    journal_ = h_.rpc("job-manager.events-journal", R"({"full":true})", NODEID_ANY, msgflag::streaming);
    journal_.then([this](Future& f) { on_journal(f); });
}

void JobList::on_journal(Future& f)
{
    auto r = f.get();
    if (!r) {
        std::string why = r.error().message();
        if (why != last_journal_error_ || journal_ok_)
            h_.log(journal_ok_ ? LOG_ERR : LOG_WARNING,
                   fmt::format("job-manager.events-journal: {}; retrying every {}s", why, journal_retry));
        last_journal_error_ = why;
        journal_ok_ = false;
        f.cancel();
        retry_ = h_.reactor().timer(journal_retry, 0, [this] { subscribe(); });
        return;
    }
    if (!journal_ok_ && !last_journal_error_.empty())
        h_.log(LOG_INFO, "job-manager.events-journal: following the journal again");
    journal_ok_ = true;
    last_journal_error_.clear();
    json payload = json::parse(r->payload, nullptr, false);
    f.reset();
    auto events = payload.is_object() ? payload.find("events") : payload.end();
    if (payload.is_discarded() || !payload.is_object() || events == payload.end() || !events->is_array()) {
        h_.log(LOG_ERR, "job-manager.events-journal: malformed response dropped");
        return;
    }
    for (const auto& rec : *events) {
        if (auto a = index_.apply(rec); !a)
            h_.log(LOG_ERR, fmt::format("journal: {}", a.error().message()));
    }
    if (!waiters_.empty())
        check_waiters();
}

// job-list.list {max_entries, attrs, since?, constraint? | legacy fields}
//   -> {jobs: [{id, ATTR...}]}; streaming: one job per response, then ENODATA.
void JobList::list(const Message& m)
{
    json req = json::parse(m.payload, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
        h_.respond_error(m, EPROTO, "invalid payload: not a JSON object");
        return;
    }
    auto me = req.find("max_entries");
    auto at = req.find("attrs");
    if (me == req.end() || !me->is_number_integer() || at == req.end()) {
        h_.respond_error(m, EPROTO, "invalid payload: max_entries and attrs are required");
        return;
    }
    std::int64_t max_entries = me->get<std::int64_t>();
    if (max_entries < 0) {
        h_.respond_error(m, EPROTO, "invalid payload: max_entries < 0 not allowed");
        return;
    }
    double since = 0;
    if (auto s = req.find("since"); s != req.end()) {
        if (!s->is_number()) {
            h_.respond_error(m, EPROTO, "invalid payload: since must be a number");
            return;
        }
        since = s->get<double>();
    }
    if (since < 0) {
        h_.respond_error(m, EPROTO, "invalid payload: since < 0.0 not allowed");
        return;
    }
    auto attrs = parse_attrs(*at);
    if (!attrs) {
        h_.respond_error(m, attrs.error().errnum, attrs.error().message());
        return;
    }
    auto ci = req.find("constraint");
    auto c = Constraint::parse(ci != req.end() ? *ci : legacy_constraint(req));
    if (!c) {
        h_.respond_error(m, EPROTO, "invalid payload: constraint object invalid: " + c.error().message());
        return;
    }
    Constraint filter = *c;
    if (restricted(m))
        filter = Constraint::both(filter, *Constraint::parse(json{{"userid", {m.userid}}}));
    auto jobs = index_.list(filter, static_cast<std::size_t>(max_entries), since);
    if (m.has_flag(msgflag::streaming)) {
        bool first = true;
        for (const Job* job : jobs) {
            std::string out = "{\"jobs\":[";
            (void)encode_job(*job, *attrs, out);
            out += first ? "],\"version\":1}" : "]}";
            first = false;
            (void)h_.respond(m, std::move(out));
        }
        (void)h_.respond_error(m, ENODATA);
        return;
    }
    std::string out = "{\"jobs\":[";
    for (size_t i = 0; i < jobs.size(); i++) {
        if (i)
            out += ',';
        (void)encode_job(*jobs[i], *attrs, out);
    }
    out += "]}";
    (void)h_.respond(m, std::move(out));
}

bool JobList::ready(const Waiter& w, const Job* job) const
{
    if (!job || job->state == JobState::NEW)
        return false;
    if (job->state == JobState::INACTIVE)
        return true;  // answer even if the awaited state was skipped
    return w.state == 0 || (job->states_mask & w.state) != 0;
}

void JobList::answer(const Waiter& w, const Job& job)
{
    if (restricted(w.req) && job.userid != w.req.userid) {
        (void)h_.respond_error(w.req, EPERM, "guests may only list their own jobs");
        return;
    }
    std::string out = "{\"job\":";
    (void)encode_job(job, w.attrs, out);
    out += '}';
    (void)h_.respond(w.req, std::move(out));
}

// job-list.list-id {id, attrs, state?} -> {job: {id, ATTR...}}. Waits for
// a job not seen yet (or still NEW, or not yet in `state`); an id the job
// manager does not know is ENOENT.
void JobList::list_id(const Message& m)
{
    json req = json::parse(m.payload, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
        h_.respond_error(m, EPROTO, "invalid payload: not a JSON object");
        return;
    }
    auto idp = req.find("id");
    auto at = req.find("attrs");
    if (idp == req.end() || !idp->is_number_integer() || idp->get<std::int64_t>() < 0 || at == req.end()) {
        h_.respond_error(m, EPROTO, "invalid payload: id and attrs are required");
        return;
    }
    auto attrs = parse_attrs(*at);
    if (!attrs) {
        h_.respond_error(m, attrs.error().errnum, attrs.error().message());
        return;
    }
    std::int64_t state = 0;
    if (auto s = req.find("state"); s != req.end()) {
        if (!s->is_number_integer()) {
            h_.respond_error(m, EPROTO, "invalid payload: state must be an integer");
            return;
        }
        state = s->get<std::int64_t>();
    }
    if (state < 0 || (state & ~std::int64_t{state_active | state_inactive})) {
        h_.respond_error(m, EPROTO, "invalid payload: invalid state specified");
        return;
    }
    Waiter w{m, idp->get<JobId>(), std::move(*attrs), static_cast<std::uint32_t>(state)};
    const Job* job = index_.find(w.id);
    if (ready(w, job)) {
        answer(w, *job);
        return;
    }
    bool unseen = job == nullptr;
    JobId id = w.id;
    waiters_.push_back(std::move(w));
    if (unseen)
        check_id(id, m);
}

// Ask the job manager whether an id we have not seen exists at all. The
// waiter may be answered meanwhile (the journal brought the job).
void JobList::check_id(JobId id, const Message& req)
{
    auto route = req.route;
    auto tag = req.matchtag();
    Future f = h_.rpc("job-info.lookup", fmt::format(R"({{"id":{},"keys":[]}})", id));
    f.then([this, id, route, tag](Future& fut) {
        auto r = fut.get();
        fut.reset();
        for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
            if (it->id != id || it->req.route != route || it->req.matchtag() != tag)
                continue;
            const Job* job = index_.find(id);
            if (ready(*it, job)) {
                answer(*it, *job);
                waiters_.erase(it);
            } else if (!job && !r && r.error().errnum == ENOENT) {
                (void)h_.respond_error(it->req, ENOENT, "unknown job id");
                waiters_.erase(it);
            } else if (!job) {
                // Valid (or the job manager could not say): give the
                // journal a moment to bring it.
                it->deadline = h_.reactor().now() + unknown_id_wait;
                arm_timer();
            }
            return;
        }
    });
}

void JobList::arm_timer()
{
    if (!waiter_timer_) {
        waiter_timer_ = h_.reactor().timer(1.0, 1.0, [this] {
            double now = h_.reactor().now();
            bool any = false;
            for (auto it = waiters_.begin(); it != waiters_.end();) {
                if (it->deadline > 0 && !index_.find(it->id) && now >= it->deadline) {
                    (void)h_.respond_error(it->req, ENOENT,
                                           "job id unknown to job-list (submitted before it started?)");
                    it = waiters_.erase(it);
                    continue;
                }
                any = any || it->deadline > 0;
                ++it;
            }
            if (!any)
                waiter_timer_->stop();
        });
    } else if (!waiter_timer_->active()) {
        waiter_timer_->start();
    }
}

void JobList::check_waiters()
{
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        const Job* job = index_.find(it->id);
        if (ready(*it, job)) {
            answer(*it, *job);
            it = waiters_.erase(it);
        } else {
            if (job)
                it->deadline = 0;
            ++it;
        }
    }
}

// job-list.list-attrs -> {attrs: [NAME..., "all"]}
void JobList::list_attrs(const Message& m)
{
    json a = json::array();
    for (auto name : job_attrs())
        a.push_back(std::string(name));
    a.push_back("all");
    (void)h_.respond(m, json{{"attrs", a}}.dump());
}

// job-list.job-stats (also job-list.stats) -> flux-core's job-stats shape.
void JobList::job_stats(const Message& m)
{
    (void)h_.respond(m, index_.stats_json());
    if (m.has_flag(msgflag::streaming))
        (void)h_.respond_error(m, ENODATA);
}

// job-list.stats-get -> the module's own counters (flux-core's shape).
void JobList::stats_get(const Message& m)
{
    (void)h_.respond(m, json{{"jobs",
                              {{"pending", index_.pending_count()},
                               {"running", index_.running_count()},
                               {"inactive", index_.inactive_count()}}},
                             {"idsync", {{"lookups", 0}, {"waits", waiters_.size()}}},
                             {"stats_watchers", 0}}
                            .dump());
}

void JobList::disconnect(const Message& m)
{
    std::erase_if(waiters_, [&](const Waiter& w) { return w.req.route == m.route; });
}

// job-purge-inactive event {jobs: [ID...]}
void JobList::purge(const Message& m)
{
    json ev = json::parse(m.payload, nullptr, false);
    if (ev.is_discarded() || !ev.is_object() || !ev.contains("jobs") || !ev["jobs"].is_array()) {
        h_.log(LOG_ERR, "job-purge-inactive: malformed event dropped");
        return;
    }
    int count = 0;
    for (const auto& id : ev["jobs"])
        if (id.is_number_integer() && id.get<std::int64_t>() >= 0 && index_.purge(id.get<JobId>()))
            count++;
    h_.log(LOG_DEBUG, fmt::format("purged {} inactive jobs", count));
}

int job_list_main(Handle& h, const std::vector<std::string>& args)
{
    h.set_log_name("job-list");
    bool private_mode = false;
    for (const auto& a : args) {
        if (a == "private-mode" || a == "private-mode=true")
            private_mode = true;
        else if (a == "private-mode=false")
            private_mode = false;
        else {
            h.log(LOG_ERR, fmt::format("unknown argument '{}' (accepted: private-mode[=true|false])", a));
            return -1;
        }
    }
    JobList jl(h, private_mode);

    struct Entry {
        MsgType type;
        const char* topic;
        void (JobList::*fn)(const Message&);
        uint32_t roles;
    };
    // Everyone may list (flux-core's FLUX_ROLE_USER); guests see only their
    // own jobs when the module is loaded with private-mode.
    static const Entry table[] = {
        {MsgType::request, "job-list.list", &JobList::list, role::all},
        {MsgType::request, "job-list.list-id", &JobList::list_id, role::all},
        {MsgType::request, "job-list.list-attrs", &JobList::list_attrs, role::all},
        {MsgType::request, "job-list.job-stats", &JobList::job_stats, role::all},
        {MsgType::request, "job-list.stats", &JobList::job_stats, role::all},
        {MsgType::request, "job-list.stats-get", &JobList::stats_get, role::all},
        {MsgType::request, "job-list.disconnect", &JobList::disconnect, role::all},
        {MsgType::event, "job-purge-inactive", &JobList::purge, role::all},
    };
    for (const auto& e : table) {
        h.add_handler(
            e.type, e.topic,
            [&jl, &h, fn = e.fn](const Message& m) {
                try {
                    (jl.*fn)(m);
                } catch (const std::exception& ex) {
                    if (m.is_request() && !m.has_flag(msgflag::noresponse))
                        (void)h.respond_error(m, EPROTO, fmt::format("{}: malformed request: {}", m.topic, ex.what()));
                    else
                        h.log(LOG_ERR, fmt::format("{}: malformed message: {}", m.topic, ex.what()));
                }
            },
            e.roles);
    }
    if (auto r = h.subscribe("job-purge-inactive"); !r)
        h.log(LOG_WARNING, fmt::format("cannot subscribe to job-purge-inactive: {}", r.error().message()));
    jl.start();
    return h.reactor().run();
}

}  // namespace

}  // namespace flux::joblist

FLUX_MODULE("job-list", flux::joblist::job_list_main)
