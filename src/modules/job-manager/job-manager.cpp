// job-manager: the queue of jobs and their life cycle (RFC 21). Rank 0 only.
// Also serves "job-info" (eventlogs, jobspec and R of any job) since it owns
// the job store. Protocols: doc/dev/job-manager.md, doc/dev/exec.md,
// doc/dev/sched.md. The handler table is at the bottom of this file.
#include <malloc.h>

#include <fmt/format.h>

#include <flux/module.hpp>

#include "manager.hpp"

namespace flux::jobmgr {

JobManager::JobManager(Handle& h, std::unique_ptr<JobDb> db) : h_(h), db_(std::move(db))
{
    prepare_ = h_.reactor().prepare([this] { flush(); });
    if (auto id = db_->max_id(); id)
        max_id_ = *id;
}

// Unloading: end every stream so its reader knows (a journal reader with
// ENODATA, as flux-core; watchers and waiters with ENOSYS).
JobManager::~JobManager()
{
    flush();
    for (const auto& j : journals_)
        respond_error(j, ENODATA, "");
    for (const auto& [id, list] : watches_)
        for (const auto& w : list)
            respond_error(w.req, ENOSYS, "job-manager unloaded");
    for (const auto& w : waiters_)
        respond_error(w.first, ENOSYS, "job-manager unloaded");
    for (const auto* v : {&drain_waiters_, &idle_waiters_, &quiesce_waiters_})
        for (const auto& m : *v)
            respond_error(m, ENOSYS, "job-manager unloaded");
    flush();
}

Job* JobManager::find(JobId id)
{
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : it->second.get();
}

void JobManager::out(Message msg)
{
    outbox_.push_back(std::move(msg));
}

void JobManager::respond(const Message& req, std::string payload)
{
    if (!req.has_flag(msgflag::noresponse))
        out(Message::response_to(req, std::move(payload)));
}

// A request that wants no answer (a job shell's last output entries) has
// its failure logged instead.
void JobManager::respond_error(const Message& req, int errnum, std::string text)
{
    if (req.has_flag(msgflag::noresponse)) {
        h_.log(3, fmt::format("{}: {}", req.topic, text.empty() ? strerror(errnum) : text));
        return;
    }
    out(Message::error_to(req, errnum, std::move(text)));
}

void JobManager::flush()
{
    check_quiesced();
    if (!journal_batch_.empty()) {
        std::string payload = fmt::format(R"({{"events":[{}]}})", journal_batch_);
        journal_batch_.clear();
        for (const auto& j : journals_)
            out(Message::response_to(j, payload));
    }
    if (outbox_.empty() && after_commit_.empty() && reap_.empty() && !db_->dirty())
        return;
    if (auto r = db_->commit(); !r)
        store_failed(r.error().message());
    uncommitted_.clear();
    for (JobId id : reap_)
        jobs_.erase(id);
    reaped_since_trim_ += reap_.size();
    reap_.clear();
    if (nactive_ == 0 && reaped_since_trim_ >= 100) {
        // The queue is empty after a burst: give the memory that held the
        // burst back to the system (every thread's arena, not just ours).
        malloc_trim(0);
        reaped_since_trim_ = 0;
    }
    auto box = std::move(outbox_);
    outbox_.clear();
    for (auto& msg : box)
        (void)h_.send(msg);
    auto actions = std::move(after_commit_);
    after_commit_.clear();
    for (auto& a : actions)
        a();
}

// A commit failed (a full or broken disk): what it held is lost, so nothing
// it held may be acknowledged. Submissions in it are refused (the jobs are
// ended with an exception) and further submissions are disabled until an
// administrator enables them again (flux queue enable). Jobs already stored
// go on; their later events may be lost as well, which the log says.
void JobManager::store_failed(const std::string& why)
{
    h_.log(2, fmt::format("{}; job submission is disabled", why));
    queue_enabled_ = false;
    queue_disable_reason_ = "the job store failed: " + why;
    for (auto& msg : outbox_)
        if (msg.is_response() && msg.errnum() == 0 && msg.topic == "job-manager.submit") {
            msg.aux1 = EIO;
            msg.set_payload(queue_disable_reason_);
        }
    auto lost = std::move(uncommitted_);
    uncommitted_.clear();
    for (JobId id : lost)
        if (Job* job = find(id)) {
            job->unstored = true;  // its rows were rolled back: its end is not stored either
            fatal_exception(*job, "store", queue_disable_reason_, 0);
        }
    // Those exceptions were written to a new transaction: try once more.
    if (auto r = db_->commit(); !r)
        h_.log(2, r.error().message());
}

// job-manager.getinfo -> {max_jobid}
void JobManager::getinfo(const Message& m)
{
    respond(m, json{{"max_jobid", max_id_}}.dump());
}

// A client, module or peer went away: drop what it was waiting for. When
// it is the scheduler, scheduling stops until a scheduler says ready again.
void JobManager::disconnect(const Message& m)
{
    auto same = [&](const Message& r) { return r.route == m.route; };
    for (auto& [id, list] : watches_)
        std::erase_if(list, [&](const Watch& w) { return same(w.req); });
    std::erase_if(journals_, same);
    std::erase_if(waiters_, [&](const auto& w) { return same(w.first); });
    std::erase_if(drain_waiters_, same);
    std::erase_if(idle_waiters_, same);
    if (sched_ready_ && !m.route.empty() && m.route.front() == sched_route_)
        sched_lost("scheduler disconnected");
}

namespace {

int job_manager_main(Handle& h, const std::vector<std::string>& args)
{
    h.set_log_name("job-manager");
    std::string path;
    for (const auto& a : args)
        if (a.starts_with("dbpath="))
            path = a.substr(7);
    if (path.empty()) {
        auto statedir = h.getattr("statedir");
        path = statedir && !statedir->empty() ? *statedir + "/job.db" : ":memory:";
    }
    auto db = JobDb::open(path);
    if (!db) {
        h.log(2, db.error().message());
        return -1;
    }
    JobManager jm(h, std::move(*db));
    jm.restart();

    struct Entry {
        MsgType type;
        const char* topic;
        void (JobManager::*fn)(const Message&);
        uint32_t roles;
    };
    static const Entry table[] = {
        {MsgType::request, "job-manager.submit", &JobManager::submit, role::owner},
        {MsgType::request, "job-manager.raise", &JobManager::raise, role::all},
        {MsgType::request, "job-manager.raiseall", &JobManager::raiseall, role::all},
        {MsgType::request, "job-manager.kill", &JobManager::kill, role::all},
        {MsgType::request, "job-manager.urgency", &JobManager::urgency, role::all},
        {MsgType::request, "job-manager.memo", &JobManager::memo, role::all},
        {MsgType::request, "job-manager.wait", &JobManager::wait, role::all},
        {MsgType::request, "job-manager.sched-hello", &JobManager::sched_hello, role::owner},
        {MsgType::request, "job-manager.sched-ready", &JobManager::sched_ready, role::owner},
        {MsgType::response, "sched.alloc", &JobManager::alloc_response, role::all},
        {MsgType::response, "sched.free", &JobManager::free_response, role::all},
        {MsgType::request, "job-manager.events-journal", &JobManager::journal, role::owner},
        {MsgType::request, "job-manager.queue-status", &JobManager::queue_status, role::all},
        {MsgType::request, "job-manager.queue-enable", &JobManager::queue_enable, role::owner},
        {MsgType::request, "job-manager.queue-start", &JobManager::queue_start, role::owner},
        {MsgType::request, "job-manager.queue-drain", &JobManager::queue_drain, role::all},
        {MsgType::request, "job-manager.queue-idle", &JobManager::queue_idle, role::all},
        {MsgType::request, "job-manager.getinfo", &JobManager::getinfo, role::all},
        {MsgType::request, "job-manager.quiesce", &JobManager::quiesce, role::owner},
        {MsgType::request, "job-manager.disconnect", &JobManager::disconnect, role::all},
        {MsgType::request, "job-info.lookup", &JobManager::lookup, role::all},
        {MsgType::request, "job-info.eventlog-watch", &JobManager::eventlog_watch, role::all},
        {MsgType::request, "job-info.eventlog-watch-cancel", &JobManager::watch_cancel, role::all},
        {MsgType::request, "job-info.append", &JobManager::output_append, role::all},
        {MsgType::request, "job-info.disconnect", &JobManager::disconnect, role::all},
    };
    for (const auto& e : table) {
        h.add_handler(
            e.type, e.topic,
            [&jm, &h, fn = e.fn](const Message& m) {
                try {
                    (jm.*fn)(m);
                } catch (const std::exception& ex) {
                    if (m.is_request() && !m.has_flag(msgflag::noresponse))
                        (void)h.respond_error(m, EPROTO, fmt::format("{}: malformed request: {}", m.topic, ex.what()));
                    else
                        h.log(3, fmt::format("{}: malformed message: {}", m.topic, ex.what()));
                }
            },
            e.roles);
    }
    if (auto r = h.service_register("job-info"); !r) {
        h.log(2, fmt::format("cannot register job-info: {}", r.error().message()));
        return -1;
    }
    // A scheduler loaded before us (the job manager was reloaded) lost its
    // job manager: ask it for the handshake again. Without one, no answer.
    (void)h.send(Message::request("sched.hello", "{}", NODEID_ANY, msgflag::noresponse));
    return h.reactor().run();
}

}  // namespace

}  // namespace flux::jobmgr

FLUX_MODULE("job-manager", flux::jobmgr::job_manager_main)
