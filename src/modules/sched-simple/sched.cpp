// sched-simple: the default scheduler. Gets resources from the resource
// module (RFC 28 resource.acquire), speaks RFC 27 with the job manager under
// the service name "sched", and places jobs with Policy (policy.hpp): FCFS by
// priority with EASY backfill over nodes, cores and GPUs. One scheduling pass
// runs per reactor loop iteration, after every message of that iteration has
// been handled. Protocol as implemented: doc/dev/sched.md.
// The handler table is at the bottom of this file.
#include <time.h>

#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/jobspec.hpp>
#include <flux/module.hpp>
#include <flux/rlist.hpp>

#include "policy.hpp"

namespace flux::sched {

using json = nlohmann::json;

namespace {

constexpr int LOG_ERR = 3, LOG_WARNING = 4, LOG_INFO = 6, LOG_DEBUG = 7;

double wall_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result<Request> request_from_jobspec(const json& jobspec)
{
    auto js = job::Jobspec::from_json(jobspec);
    if (!js)
        return std::unexpected(js.error());
    Request r;
    r.nnodes = js->nnodes;
    r.nslots = js->nslots;
    r.slots_per_node = js->slots_per_node;
    r.cores_per_slot = js->cores_per_slot;
    r.gpus_per_slot = js->gpus_per_slot;
    r.exclusive = js->exclusive;
    r.duration = js->duration;
    return r;
}

// A request field that must be an unsigned integer of at most `max`.
Result<std::uint64_t> get_uint(const json& j, const char* key, std::uint64_t max = UINT64_MAX)
{
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() > max)
        return fail(EPROTO, fmt::format("'{}' must be an unsigned integer", key));
    return it->get<std::uint64_t>();
}

class Sched {
public:
    using Method = void (Sched::*)(const Message&);

    Sched(Handle& h, AllocMode mode) : h_(h), policy_(mode)
    {
        // Once per loop iteration, after its messages: serve what waited for
        // the handshake, then schedule.
        prep_ = h_.reactor().prepare([this] {
            if (ready_ && !early_.empty()) {
                auto waiting = std::move(early_);
                early_.clear();
                for (auto& [m, fn] : waiting)
                    call(fn, m);
            }
            if (pass_wanted_) {
                try {
                    run_pass();
                } catch (const std::exception& ex) {
                    h_.log(LOG_ERR, fmt::format("scheduling pass: {}", ex.what()));
                }
            }
        });
    }
    ~Sched()
    {
        // Their callbacks capture this.
        acquire_.cancel();
        hello_.cancel();
        ready_f_.cancel();
    }
    Sched(const Sched&) = delete;
    Sched& operator=(const Sched&) = delete;

    void start();
    /// Run a handler; requests that need the handshake wait for it.
    void dispatch(Method fn, const Message& m, bool needs_ready);
    /// Answer everything still pending: the scheduler is going away.
    void fail_pending(const std::string& why);

    void alloc(const Message& m);
    void cancel(const Message& m);
    void free(const Message& m);
    void prioritize(const Message& m);
    void feasibility(const Message& m);
    void resource_status(const Message& m);
    void disconnect(const Message& m);
    void hello_again(const Message& m);

private:
    void on_acquire(Future& f);
    void on_hello(Future& f);
    void fatal(const std::string& why);
    void want_pass() { pass_wanted_ = true; }
    void run_pass();
    void respond_alloc(std::uint64_t id, const std::string& body);
    void deny(const Message& m, std::uint64_t id, const std::string& note);
    void forget(std::uint64_t id);
    void reject(const Message& m, const std::string& why);
    void call(Method fn, const Message& m);

    Handle& h_;
    Policy policy_;
    Future acquire_, hello_, ready_f_;
    bool have_resources_ = false;
    bool ready_ = false;  // hello done: the job manager's requests are served
    bool pass_wanted_ = false;
    WatcherPtr prep_;
    TimerPtr wakeup_;
    std::unordered_map<std::uint64_t, Message> requests_;  // pending sched.alloc by job id
    std::unordered_map<std::string, std::size_t> routes_;  // their senders' routes -> count
    std::vector<std::pair<Message, Method>> early_;        // waiting for the handshake
};

void Sched::call(Method fn, const Message& m)
{
    try {
        (this->*fn)(m);
    } catch (const std::exception& ex) {
        reject(m, fmt::format("malformed request: {}", ex.what()));
    }
}

void Sched::dispatch(Method fn, const Message& m, bool needs_ready)
{
    if (needs_ready && !ready_)
        early_.emplace_back(m, fn);
    else
        call(fn, m);
}

// ---- start-up: acquire, hello, ready --------------------------------------------------------

void Sched::start()
{
    acquire_ = h_.rpc("resource.acquire", "{}", NODEID_ANY, msgflag::streaming);
    acquire_.then([this](Future& f) { on_acquire(f); });
}

void Sched::fatal(const std::string& why)
{
    h_.log(LOG_ERR, why);
    h_.reactor().stop(-1);
}

void Sched::on_acquire(Future& f)
{
    while (f.ready()) {
        auto r = f.get();
        f.reset();
        if (!r) {
            if (!have_resources_)
                fatal("resource.acquire: " + r.error().message());
            else
                h_.log(LOG_ERR, "resource.acquire: " + r.error().message() + "; up/down changes will not be seen");
            return;
        }
        json j = json::parse(r->payload, nullptr, false);
        if (!j.is_object()) {
            h_.log(LOG_ERR, "resource.acquire: response is not a JSON object");
            continue;
        }
        if (!have_resources_) {
            auto R = j.contains("resources") ? Rlist::from_json(j["resources"]) : fail(EPROTO, "no resources");
            if (!R) {
                fatal("resource.acquire: " + R.error().message());
                return;
            }
            policy_.set_resources(*R);
            have_resources_ = true;
            hello_ = h_.rpc("job-manager.sched-hello", "{}");
            hello_.then([this](Future& hf) { on_hello(hf); });
        }
        for (const char* key : {"up", "down"}) {
            if (!j.contains(key))
                continue;
            auto ids = j[key].is_string() ? IdSet::parse(j[key].get<std::string>()) : fail(EPROTO, "not a string");
            if (!ids)
                h_.log(LOG_ERR, fmt::format("resource.acquire: bad {} idset", key));
            else
                policy_.set_up(*ids, std::string_view(key) == "up");
        }
        if (j.contains("expiration") && j["expiration"].is_number())
            policy_.set_expiration(j["expiration"].get<double>());
        want_pass();
    }
}

void Sched::on_hello(Future& f)
{
    auto r = f.get();
    if (!r) {
        fatal("job-manager.sched-hello: " + r.error().message());
        return;
    }
    json j = json::parse(r->payload, nullptr, false);
    const json& list = j.is_object() && j.contains("alloc") ? j["alloc"] : json();
    if (!list.is_array()) {
        fatal("job-manager.sched-hello: response has no alloc array");
        return;
    }
    std::size_t n = 0;
    for (const auto& e : list) {
        auto id = e.is_object() ? get_uint(e, "id") : fail(EPROTO, "not an object");
        auto R = id && e.contains("R") ? Rlist::from_json(e["R"]) : fail(EPROTO, "no R");
        if (!id || !R) {
            h_.log(LOG_ERR,
                   fmt::format("hello: skipping malformed entry: {}", (!id ? id.error() : R.error()).message()));
            continue;
        }
        if (auto a = policy_.add_running(*id, *R); !a)
            h_.log(LOG_ERR, "hello: " + a.error().message());
        n++;
    }
    ready_ = true;
    ready_f_ = h_.rpc("job-manager.sched-ready", R"({"mode":"unlimited"})");
    ready_f_.then([this, n](Future& rf) {
        if (auto rr = rf.get(); !rr) {
            fatal("job-manager.sched-ready: " + rr.error().message());
            return;
        }
        const auto& pool = policy_.pool();
        h_.log(LOG_DEBUG, fmt::format("ready ({}): {} job(s) running, {} of {} cores free",
                                      alloc_mode_name(policy_.mode()), n, pool.free_cores_up(), pool.total_cores()));
    });
    want_pass();
}

// ---- the scheduling pass ------------------------------------------------------------------

void Sched::respond_alloc(std::uint64_t id, const std::string& body)
{
    auto it = requests_.find(id);
    if (it == requests_.end())
        return;
    (void)h_.respond(it->second, fmt::format(R"({{"id":{},{}}})", id, body));
}

void Sched::forget(std::uint64_t id)
{
    auto it = requests_.find(id);
    if (it == requests_.end())
        return;
    auto r = routes_.find(it->second.route_string());
    if (r != routes_.end() && --r->second == 0)
        routes_.erase(r);
    requests_.erase(it);
}

void Sched::run_pass()
{
    pass_wanted_ = false;
    if (!ready_)
        return;
    double now = wall_now();
    for (auto& d : policy_.schedule(now)) {
        switch (d.type) {
            case Decision::Type::alloc: {
                Rlist R = policy_.pool().to_rlist(d.alloc, d.starttime, d.expiration);
                json sched{{"resource_summary", R.to_string()}};
                if (d.was_annotated)
                    sched["reason_pending"] = nullptr;
                respond_alloc(d.id, fmt::format(R"("type":0,"R":{},"annotations":{})", R.to_json(),
                                                json{{"sched", sched}}.dump()));
                forget(d.id);
                break;
            }
            case Decision::Type::annotate:
                respond_alloc(d.id, R"("type":1,"annotations":{"sched":{"reason_pending":"insufficient resources"}})");
                break;
            case Decision::Type::unannotate:
                respond_alloc(d.id, R"("type":1,"annotations":{"sched":{"reason_pending":null}})");
                break;
        }
    }
    // A blocked job is annotated only once it has waited a while.
    if (auto t = policy_.wakeup_time()) {
        double after = std::max(0.0, *t - now) + 0.001;
        if (!wakeup_)
            wakeup_ = h_.reactor().timer(after, 0, [this] { want_pass(); });
        else
            wakeup_->reset(after);
    }
}

// ---- RFC 27 requests ------------------------------------------------------------------------

void Sched::deny(const Message& m, std::uint64_t id, const std::string& note)
{
    (void)h_.respond(
        m, json{{"id", id}, {"type", 2}, {"note", note}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

// A malformed request we must not answer normally: say why, if an answer
// is expected at all.
void Sched::reject(const Message& m, const std::string& why)
{
    h_.log(LOG_ERR, fmt::format("{}: {}", m.topic, why));
    if (!m.has_flag(msgflag::noresponse))
        (void)h_.respond_error(m, EPROTO, fmt::format("{}: {}", m.topic, why));
}

// sched.alloc {id, priority, userid, t_submit, jobspec}
void Sched::alloc(const Message& m)
{
    json j = json::parse(m.payload);
    if (!j.is_object())
        return reject(m, "payload must be a JSON object");
    auto id = get_uint(j, "id");
    if (!id)
        return reject(m, id.error().text);
    Job job;
    job.id = *id;
    auto priority = get_uint(j, "priority", UINT32_MAX);
    auto userid = get_uint(j, "userid", UINT32_MAX);
    if (!priority || !userid)
        return reject(m, (!priority ? priority : userid).error().text);
    job.priority = static_cast<std::uint32_t>(*priority);
    job.userid = static_cast<std::uint32_t>(*userid);
    if (j.contains("t_submit") && !j["t_submit"].is_number())
        return reject(m, "'t_submit' must be a number");
    job.t_submit = j.value("t_submit", 0.0);
    if (!j.contains("jobspec") || !j["jobspec"].is_object())
        return deny(m, job.id, "alloc request carries no jobspec");
    auto req = request_from_jobspec(j["jobspec"]);
    if (!req)
        return deny(m, job.id, req.error().message());
    job.req = *req;
    if (policy_.is_pending(job.id)) {
        // Asked again (a job manager that lost track): answer the latest.
        h_.log(LOG_WARNING, fmt::format("job {}: duplicate alloc request", job.id));
        forget(job.id);
    } else if (auto r = policy_.enqueue(job); !r) {
        return deny(m, job.id, r.error().message());
    }
    Message kept = m;  // what responding needs: route, matchtag, topic
    kept.payload.clear();
    kept.has_payload = false;
    routes_[kept.route_string()]++;
    requests_.insert_or_assign(job.id, std::move(kept));
    want_pass();
}

// sched.cancel {id}: no response; the pending alloc gets type 3.
void Sched::cancel(const Message& m)
{
    json j = json::parse(m.payload);
    auto id = j.is_object() ? get_uint(j, "id") : fail(EPROTO, "payload must be a JSON object");
    if (!id)
        return reject(m, id.error().text);
    if (!policy_.cancel(*id))
        return;
    respond_alloc(*id, R"("type":3)");
    forget(*id);
    want_pass();
}

// sched.free {id, R, final?} -> {id}
void Sched::free(const Message& m)
{
    json j = json::parse(m.payload);
    auto id = j.is_object() ? get_uint(j, "id") : fail(EPROTO, "payload must be a JSON object");
    if (!id)
        return reject(m, id.error().text);
    if (j.contains("final") && !j["final"].is_boolean())
        return reject(m, "'final' must be a boolean");
    bool final = j.value("final", false);
    Rlist R;
    if (j.contains("R")) {
        auto parsed = Rlist::from_json(j["R"]);
        if (!parsed)
            return reject(m, parsed.error().message());
        R = std::move(*parsed);
    } else {
        final = true;  // without R, the job gives back everything it holds
    }
    if (auto r = policy_.release(*id, R, final); !r)
        h_.log(LOG_WARNING, "free: " + r.error().message());
    (void)h_.respond(m, fmt::format(R"({{"id":{}}})", *id));
    want_pass();
}

// sched.prioritize {jobs: [[id, priority], ...]}: no response.
void Sched::prioritize(const Message& m)
{
    json j = json::parse(m.payload);
    if (!j.is_object() || !j.contains("jobs") || !j["jobs"].is_array())
        return reject(m, "'jobs' must be an array");
    std::vector<std::pair<std::uint64_t, std::uint32_t>> updates;
    for (const auto& e : j["jobs"]) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_number_unsigned() || !e[1].is_number_unsigned() ||
            e[1].get<std::uint64_t>() > UINT32_MAX)
            return reject(m, "'jobs' entries must be [id, priority]");
        updates.emplace_back(e[0].get<std::uint64_t>(), static_cast<std::uint32_t>(e[1].get<std::uint64_t>()));
    }
    policy_.prioritize(updates);
    want_pass();
}

// sched.feasibility {jobspec} -> {} or an error (EOVERFLOW: can never fit).
void Sched::feasibility(const Message& m)
{
    json j = json::parse(m.payload);
    if (!j.is_object() || !j.contains("jobspec") || !j["jobspec"].is_object()) {
        (void)h_.respond_error(m, EPROTO, "sched.feasibility: 'jobspec' must be an object");
        return;
    }
    auto req = request_from_jobspec(j["jobspec"]);
    if (!req) {
        (void)h_.respond_error(m, EINVAL, req.error().message());
        return;
    }
    if (auto r = policy_.check_feasible(*req); !r) {
        (void)h_.respond_error(m, r.error().errnum, r.error().text);
        return;
    }
    (void)h_.respond(m, "{}");
}

// sched.resource-status -> {all: R, allocated: R, down: R}
void Sched::resource_status(const Message& m)
{
    const auto& pool = policy_.pool();
    (void)h_.respond(m, fmt::format(R"({{"all":{},"allocated":{},"down":{}}})", pool.all().to_json(),
                                    pool.allocated().to_json(), pool.down().to_json()));
}

// A client is gone: its pending alloc requests can no longer be answered.
void Sched::disconnect(const Message& m)
{
    std::string route = m.route_string();
    if (!routes_.contains(route))
        return;
    std::vector<std::uint64_t> gone;
    for (const auto& [id, req] : requests_)
        if (req.route_string() == route)
            gone.push_back(id);
    for (auto id : gone) {
        policy_.cancel(id);
        forget(id);
    }
    h_.log(LOG_INFO, fmt::format("requester disconnected: dropped {} pending request(s)", gone.size()));
    want_pass();
}

// A job manager that (re)started asks for the handshake again: the one
// that heard the last is gone, with what it asked for. Its hello tells
// which jobs hold resources now.
void Sched::hello_again(const Message&)
{
    if (!ready_)
        return;  // the first handshake is still to come or under way
    ready_ = false;
    requests_.clear();
    routes_.clear();
    policy_.forget_jobs();
    ready_f_.cancel();
    h_.log(LOG_INFO, "the job manager restarted: saying hello again");
    hello_ = h_.rpc("job-manager.sched-hello", "{}");
    hello_.then([this](Future& hf) { on_hello(hf); });
}

void Sched::fail_pending(const std::string& why)
{
    for (const auto& [id, m] : requests_)
        (void)h_.respond_error(m, ENOSYS, why);
    requests_.clear();
    routes_.clear();
    for (const auto& [m, fn] : early_)
        if (!m.has_flag(msgflag::noresponse))
            (void)h_.respond_error(m, ENOSYS, why);
    early_.clear();
}

// ---- module main and handler table ----------------------------------------------------------

Result<AllocMode> configured_mode(Handle& h, const std::vector<std::string>& args)
{
    AllocMode mode = AllocMode::worst_fit;
    auto c = h.rpc("config.get", "{}").get(30);
    if (!c)
        return fail(c.error().errnum, "config.get: " + c.error().message());
    json conf = json::parse(c->payload, nullptr, false);
    if (conf.is_object() && conf.contains("sched-simple")) {
        const json& s = conf["sched-simple"];
        if (!s.is_object())
            return fail(EINVAL, "[sched-simple] must be a table");
        if (s.contains("alloc-mode")) {
            if (!s["alloc-mode"].is_string())
                return fail(EINVAL, "[sched-simple] alloc-mode must be a string");
            auto m = parse_alloc_mode(s["alloc-mode"].get<std::string>());
            if (!m)
                return fail(EINVAL, "[sched-simple] alloc-mode: " + m.error().text);
            mode = *m;
        }
    }
    for (const auto& a : args) {
        std::string_view v = a;
        if (v.starts_with("alloc-mode="))
            v.remove_prefix(11);
        else if (v.starts_with("mode="))
            v.remove_prefix(5);
        else
            return fail(EINVAL, fmt::format("unknown module argument '{}'", a));
        if (v == "unlimited" || v.starts_with("limited="))
            continue;  // flux-core's concurrency modes: we always take every request
        auto m = parse_alloc_mode(v);
        if (!m)
            return std::unexpected(m.error());
        mode = *m;
    }
    return mode;
}

int sched_main(Handle& h, const std::vector<std::string>& args)
{
    struct Entry {
        const char* topic;
        Sched::Method fn;
        uint32_t roles;
        bool needs_ready;  // held until the hello handshake is done
    };
    static const Entry table[] = {
        {"sched.alloc", &Sched::alloc, role::owner, true},
        {"sched.cancel", &Sched::cancel, role::owner, true},
        {"sched.free", &Sched::free, role::owner, true},
        {"sched.prioritize", &Sched::prioritize, role::owner, true},
        {"sched.feasibility", &Sched::feasibility, role::owner | role::user, true},
        {"sched.resource-status", &Sched::resource_status, role::owner | role::user, true},
        {"sched.disconnect", &Sched::disconnect, role::all, false},
        {"sched.hello", &Sched::hello_again, role::owner, false},
    };
    auto mode = configured_mode(h, args);
    if (!mode) {
        h.log(LOG_ERR, mode.error().message());
        return -1;
    }
    if (auto r = h.service_register("sched"); !r) {
        h.log(LOG_ERR, "cannot register service 'sched': " + r.error().message());
        return -1;
    }
    Sched sched(h, *mode);
    for (const auto& e : table) {
        h.add_handler(
            MsgType::request, e.topic,
            [&sched, fn = e.fn, needs_ready = e.needs_ready](const Message& m) { sched.dispatch(fn, m, needs_ready); },
            e.roles);
    }
    sched.start();
    int rc = h.reactor().run();
    h.clear_handlers();
    sched.fail_pending("simple sched exiting");
    return rc;
}

}  // namespace

}  // namespace flux::sched

FLUX_MODULE("sched-simple", flux::sched::sched_main)
