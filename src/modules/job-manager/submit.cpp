// Submission (from job-ingest), exceptions, signals, urgency, wait and
// job dependencies.
#include <csignal>
#include <ctime>

#include <fmt/format.h>

#include <flux/jobid.hpp>
#include <flux/jobspec.hpp>

#include "manager.hpp"

namespace flux::jobmgr {

// A job's Spec from its jobspec text. job-ingest, which has parsed and
// validated the text, sends what the job manager needs of it (`facts`:
// {ntasks, sched, list, deps}), so the text is not parsed again here; without
// facts it is parsed. Bulk submissions of one jobspec reuse the last Spec.
std::shared_ptr<const Spec> JobManager::intern(const std::string& text, const json* facts, std::string& err)
{
    if (last_spec_ && last_spec_->text == text)
        return last_spec_;
    auto spec = std::make_shared<Spec>();
    spec->text = text;
    if (facts && facts->is_object()) {
        spec->ntasks = facts->at("ntasks").get<std::uint32_t>();
        spec->sched_text = facts->at("sched").get<std::string>();
        spec->list_text = facts->value("list", text);
        for (const auto& d : facts->value("deps", json::array()))
            spec->dependencies.emplace_back(d.at(0).get<std::string>(), d.at(1).get<std::string>());
    } else {
        auto js = job::Jobspec::parse(text);
        if (!js) {
            err = js.error().message();
            return nullptr;
        }
        spec->ntasks = js->ntasks;
        spec->sched_text = js->sched_view();
        spec->list_text = js->listing_view();
        spec->dependencies = js->dependencies();
    }
    last_spec_ = spec;
    return spec;
}

// job-manager.submit (from job-ingest): a JSON header {texts: [{length,
// facts?: INDEX}...], facts: [{ntasks, sched, list, deps}...], jobs: [{id,
// userid, urgency, flags, t_submit, jobspec: INDEX}]}, a newline, then the
// jobspec texts one after another, raw -> {errors} once stored.
void JobManager::submit(const Message& m)
{
    if (!queue_enabled_) {
        respond_error(m, ENOSYS,
                      queue_disable_reason_.empty() ? "job submission is disabled"
                                                    : "job submission is disabled: " + queue_disable_reason_);
        return;
    }
    std::string_view body(m.payload);
    auto nl = body.find('\n');
    if (nl == std::string_view::npos) {
        respond_error(m, EPROTO, "job-manager.submit: no newline after the header");
        return;
    }
    auto req = json::parse(body.substr(0, nl));
    body.remove_prefix(nl + 1);
    const auto& texts = req.at("texts");
    const json* facts = req.contains("facts") && req["facts"].is_array() ? &req["facts"] : nullptr;
    std::vector<std::string_view> views;
    for (const auto& t : texts) {
        auto len = t.at("length").get<std::size_t>();
        if (len > body.size()) {
            respond_error(m, EPROTO, "job-manager.submit: the texts are shorter than their lengths");
            return;
        }
        views.push_back(body.substr(0, len));
        body.remove_prefix(len);
    }
    if (!body.empty()) {
        respond_error(m, EPROTO, "job-manager.submit: bytes left after the texts");
        return;
    }
    std::vector<std::shared_ptr<const Spec>> specs;
    for (std::size_t i = 0; i < views.size(); i++) {
        const json* f = nullptr;
        if (auto fi = texts[i].find("facts");
            fi != texts[i].end() && facts && fi->is_number_unsigned() && fi->get<std::size_t>() < facts->size())
            f = &(*facts)[fi->get<std::size_t>()];
        std::string err;
        auto s = intern(std::string(views[i]), f, err);
        if (!s) {
            respond_error(m, EINVAL, err);
            return;
        }
        specs.push_back(std::move(s));
    }
    json errors = json::array();
    for (const auto& j : req.at("jobs")) {
        auto job = std::make_unique<Job>();
        job->id = j.at("id").get<JobId>();
        job->userid = j.at("userid").get<std::uint32_t>();
        job->urgency = j.value("urgency", 16);
        job->flags = j.value("flags", 0);
        job->t_submit = j.at("t_submit").get<double>();
        std::size_t idx = j.at("jobspec").get<std::size_t>();
        if (idx >= specs.size() || jobs_.contains(job->id) || results_.contains(job->id)) {
            errors.push_back({{"id", job->id}, {"error", "duplicate job id or bad jobspec index"}});
            continue;
        }
        job->spec = specs[idx];
        if (auto r = db_->add_job(job->id, job->userid, job->spec->text); !r) {
            errors.push_back({{"id", job->id}, {"error", r.error().message()}});
            continue;
        }
        if (job->id > max_id_)
            max_id_ = job->id;
        Job& ref = *job;
        uncommitted_.push_back(ref.id);
        jobs_.emplace(job->id, std::move(job));
        nactive_++;
        ojson ctx{{"userid", ref.userid}, {"urgency", ref.urgency}, {"flags", ref.flags}, {"version", 1}};
        post(ref, "submit", ctx);
        advance(ref);
    }
    respond(m, json{{"errors", errors}}.dump());
}

bool JobManager::may_access(const Message& m, std::uint32_t owner) const
{
    return (m.rolemask & role::owner) != 0 || m.userid == owner;
}

// The active job `id` if the sender may act on it; otherwise answer the
// request (unknown, inactive, or `denied` for someone else's job).
Job* JobManager::active_job(const Message& m, JobId id, const char* denied)
{
    Job* job = find(id);
    if (!job) {
        bool inactive = results_.contains(id);
        respond_error(m, inactive ? EINVAL : ENOENT, inactive ? "job is inactive" : "unknown job id");
        return nullptr;
    }
    if (!may_access(m, job->userid)) {
        respond_error(m, EPERM, denied);
        return nullptr;
    }
    return job;
}

// job-manager.memo {id, memo: {KEY: VALUE|null, ...}}: a memo event (RFC
// 21) on an active job; job-list shows it as annotations.user. A child
// instance posts {uri} this way.
void JobManager::memo(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    const json& memo = req.at("memo");
    if (!memo.is_object() || memo.empty()) {
        respond_error(m, EPROTO, "memo must be a non-empty object");
        return;
    }
    Job* job = active_job(m, id, "guests may only add memos to their own jobs");
    if (!job)
        return;
    post_text(*job, "memo", memo.dump(-1, ' ', false, json::error_handler_t::replace));
    respond(m);
}

// job-manager.raise {id, type, severity, note}: post an exception.
void JobManager::raise(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    std::string type = req.at("type").get<std::string>();
    int severity = req.value("severity", 0);
    std::string note = req.value("note", "");
    if (type.empty() || type.find_first_of(" \t\n=") != std::string::npos || severity < 0 || severity > 7) {
        respond_error(m, EPROTO, "invalid exception type or severity");
        return;
    }
    Job* job = active_job(m, id, "guests may only raise exceptions on their own jobs");
    if (!job)
        return;
    if (severity == 0) {
        fatal_exception(*job, type, note, m.userid);
    } else {
        ojson ctx{{"type", type}, {"severity", severity}, {"userid", m.userid}, {"note", note}};
        post(*job, "exception", ctx);
    }
    respond(m);
}

// job-manager.kill {id, signum}: signal a running job's tasks.
void JobManager::kill(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    int signum = req.value("signum", SIGTERM);
    if (signum <= 0 || signum >= NSIG) {
        respond_error(m, EINVAL, fmt::format("invalid signal number {}", signum));
        return;
    }
    Job* job = active_job(m, id, "guests may only signal their own jobs");
    if (!job)
        return;
    if (job->state != State::RUN || !job->exec_running) {
        respond_error(m, EINVAL, "job is not running");
        return;
    }
    kill_exec(*job, signum);
    respond(m);
}

// job-manager.urgency {id, urgency} -> {old_urgency}
void JobManager::urgency(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    int urg = req.at("urgency").get<int>();
    bool owner = (m.rolemask & role::owner) != 0;
    if (urg < 0 || urg > 31) {
        respond_error(m, EINVAL, "urgency must be in the range 0-31");
        return;
    }
    Job* job = active_job(m, id, "guests may only change the urgency of their own jobs");
    if (!job)
        return;
    if (!owner && urg > 16) {
        respond_error(m, EPERM, "guests may not raise urgency above 16");
        return;
    }
    if (job->state == State::RUN || job->state == State::CLEANUP) {
        respond_error(m, EINVAL, "urgency cannot be changed once the job has resources");
        return;
    }
    int old = job->urgency;
    job->urgency = urg;
    post(*job, "urgency", ojson{{"userid", m.userid}, {"urgency", urg}});
    if (job->state == State::SCHED) {
        std::uint32_t prio = urg == 0 ? 0u : urg == 31 ? 4294967295u : static_cast<std::uint32_t>(urg);
        if (prio != job->priority) {
            job->priority = prio;
            post(*job, "priority", ojson{{"priority", prio}});
            if (prio == 0) {
                if (job->alloc_pending)
                    cancel_alloc(*job);
            } else if (job->alloc_pending) {
                Message p =
                    Message::request("sched.prioritize", json{{"jobs", json::array({json::array({id, prio})})}}.dump(),
                                     NODEID_ANY, msgflag::noresponse);
                out(std::move(p));
            } else {
                request_alloc(*job);
            }
        }
    }
    respond(m, json{{"old_urgency", old}}.dump());
}

// job-manager.wait {id} (0 = any waitable job of the caller's) ->
// {id, success, errstr} once the job is inactive.
void JobManager::wait(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.value("id", JobId{0});
    if (id != 0) {
        Job* job = find(id);
        std::uint32_t owner = job ? job->userid : 0;
        if (auto z = zombies_.find(id); z != zombies_.end())
            owner = z->second.userid;
        else if (!job) {
            respond_error(m, ECHILD,
                          results_.contains(id) ? "job is not waitable or was already waited for" : "unknown job id");
            return;
        }
        if (!may_access(m, owner)) {
            respond_error(m, EPERM, "guests may only wait for their own jobs");
            return;
        }
        if (job && !(job->flags & jobflag::waitable)) {
            respond_error(m, EINVAL, "job was not submitted with the waitable flag");
            return;
        }
        for (const auto& w : waiters_)
            if (w.second == id) {
                respond_error(m, EEXIST, "someone is already waiting for this job");
                return;
            }
        if (auto z = zombies_.find(id); z != zombies_.end()) {
            respond(m, json{{"id", id}, {"success", z->second.success}, {"errstr", z->second.errstr}}.dump());
            zombies_.erase(z);
            return;
        }
        waiters_.emplace_back(m, id);
        return;
    }
    for (auto z = zombies_.begin(); z != zombies_.end(); ++z) {
        if (z->second.userid == m.userid) {
            respond(m, json{{"id", z->first}, {"success", z->second.success}, {"errstr", z->second.errstr}}.dump());
            zombies_.erase(z);
            return;
        }
    }
    bool any = false;
    for (const auto& [jid, job] : jobs_)
        if ((job->flags & jobflag::waitable) && job->userid == m.userid && job->state != State::INACTIVE)
            any = true;
    if (!any) {
        respond_error(m, ECHILD, "there are no waitable jobs");
        return;
    }
    waiters_.emplace_back(m, 0);
}

// DEPEND: register each dependency of a new job; those already decided
// are resolved now.
void JobManager::resolve_deps(Job& job)
{
    if (!job.spec || job.spec->dependencies.empty())
        return;
    for (const auto& [scheme, value] : job.spec->dependencies) {
        std::string desc = scheme + ":" + value;
        if (scheme != "after" && scheme != "afterok" && scheme != "afternotok" && scheme != "afterany") {
            fatal_exception(job, "dependency", fmt::format("dependency scheme \"{}\" is not supported", scheme),
                            job.userid);
            return;
        }
        auto target = parse_jobid(value);
        if (!target) {
            fatal_exception(job, "dependency", fmt::format("{}: \"{}\" is not a valid job id", scheme, value),
                            job.userid);
            return;
        }
        Job* t = find(*target);
        if (!t && !stored_result(*target)) {
            fatal_exception(job, "dependency", fmt::format("{}: job {} not found", scheme, value), job.userid);
            return;
        }
        if (t && t->userid != job.userid) {
            // Only depend on your own jobs, as flux-core.
            fatal_exception(job, "dependency", fmt::format("{}: job {} belongs to another user", scheme, value),
                            job.userid);
            return;
        }
        job.deps.push_back(Dependency{scheme, *target, desc});
        post(job, "dependency-add", ojson{{"description", desc}});
    }
    evaluate_deps(job);
}

// Resolve the job's dependencies whose target is already decided; wait for
// the others.
void JobManager::evaluate_deps(Job& job)
{
    for (auto it = job.deps.begin(); it != job.deps.end();) {
        Job* t = find(it->target);
        bool done = !t || t->state == State::INACTIVE;
        bool started = t && (t->state == State::RUN || t->state == State::CLEANUP);
        if (!done && !(it->scheme == "after" && started)) {
            dependents_[it->target].push_back(job.id);
            ++it;
            continue;
        }
        JobResult r = JobResult::COMPLETED;
        if (done) {
            auto stored = stored_result(it->target);
            if (!stored) {
                job.deps.clear();
                fatal_exception(job, "dependency", fmt::format("{}: job not found", it->description), job.userid);
                return;
            }
            r = *stored;
        }
        bool ok = it->scheme == "after" || it->scheme == "afterany" ||
                  (it->scheme == "afterok" && r == JobResult::COMPLETED) ||
                  (it->scheme == "afternotok" && r != JobResult::COMPLETED);
        if (it->scheme == "after" && done && !started && r == JobResult::CANCELED)
            ok = false;
        if (!ok) {
            std::string note =
                fmt::format("dependency {} can never be satisfied (job {})", it->description, job_result_name(r));
            job.deps.clear();
            fatal_exception(job, "dependency", note, job.userid);
            return;
        }
        post(job, "dependency-remove", ojson{{"description", it->description}});
        it = job.deps.erase(it);
    }
}

// A job others depend on started (after) or became inactive.
void JobManager::check_dependents(const Job& target, bool started)
{
    auto it = dependents_.find(target.id);
    if (it == dependents_.end())
        return;
    std::vector<JobId> waiting = it->second;
    std::vector<JobId> keep;
    for (JobId id : waiting) {
        Job* job = find(id);
        if (!job || job->state != State::DEPEND)
            continue;
        for (auto d = job->deps.begin(); d != job->deps.end();) {
            if (d->target != target.id) {
                ++d;
                continue;
            }
            if (started && d->scheme != "after") {
                ++d;
                continue;
            }
            JobResult r = started ? JobResult::COMPLETED : result_of(target);
            bool ok = d->scheme == "afterany" || (d->scheme == "after" && (started || target.started)) ||
                      (d->scheme == "afterok" && r == JobResult::COMPLETED) ||
                      (d->scheme == "afternotok" && r != JobResult::COMPLETED);
            if (!ok) {
                std::string note =
                    fmt::format("dependency {} can never be satisfied (job {})", d->description, job_result_name(r));
                job->deps.clear();
                fatal_exception(*job, "dependency", note, job->userid);
                break;
            }
            post(*job, "dependency-remove", ojson{{"description", d->description}});
            d = job->deps.erase(d);
        }
        if (job->state == State::DEPEND) {
            bool still = false;
            for (const auto& d : job->deps)
                still = still || d.target == target.id;
            if (still)
                keep.push_back(id);
            if (job->deps.empty())
                post(*job, "depend");
        }
    }
    if (keep.empty())
        dependents_.erase(target.id);
    else
        dependents_[target.id] = std::move(keep);
}

}  // namespace flux::jobmgr

namespace flux::jobmgr {

// job-manager.raiseall {type, severity, note, userid (-1: all users),
// states?: "pending"|"running"|"pending,running", dry_run} -> {count}
void JobManager::raiseall(const Message& m)
{
    auto req = json::parse(m.payload);
    std::string type = req.at("type").get<std::string>();
    int severity = req.value("severity", 0);
    std::string note = req.value("note", "");
    std::int64_t uid = req.value("userid", static_cast<std::int64_t>(m.userid));
    bool dry = req.value("dry_run", false);
    std::string states = req.value("states", "pending,running");
    bool owner = (m.rolemask & role::owner) != 0;
    if (!owner && uid != static_cast<std::int64_t>(m.userid)) {
        respond_error(m, EPERM, "guests may only raise exceptions on their own jobs");
        return;
    }
    bool pending = states.find("pending") != std::string::npos, running = states.find("running") != std::string::npos;
    std::vector<JobId> targets;
    for (const auto& [id, job] : jobs_) {
        if (job->state == State::INACTIVE || job->state == State::CLEANUP)
            continue;
        if (uid >= 0 && job->userid != static_cast<std::uint32_t>(uid))
            continue;
        bool is_running = job->state == State::RUN;
        if ((is_running && running) || (!is_running && pending))
            targets.push_back(id);
    }
    if (!dry) {
        std::sort(targets.begin(), targets.end());
        for (JobId id : targets) {
            Job* job = find(id);
            if (!job)
                continue;
            if (severity == 0)
                fatal_exception(*job, type, note, m.userid);
            else
                post(*job, "exception",
                     json{{"type", type}, {"severity", severity}, {"userid", m.userid}, {"note", note}});
        }
    }
    respond(m, json{{"count", targets.size()}}.dump());
}

}  // namespace flux::jobmgr
