// The job manager's side of RFC 27 (doc/dev/sched.md): hello, ready, alloc,
// free, cancel. Alloc and free requests carry matchtag 0 and are matched by
// job id; their documents travel in the payloads (there is no KVS).
#include <fmt/format.h>

#include <flux/jobutil.hpp>

#include "manager.hpp"

namespace flux::jobmgr {

// job-manager.sched-hello -> {alloc: [{id, priority, userid, R}]}
void JobManager::sched_hello(const Message& m)
{
    std::string list;
    for (const auto& [id, job] : jobs_) {
        if (!job->has_resources)
            continue;
        if (!list.empty())
            list += ',';
        list += fmt::format(R"({{"id":{},"priority":{},"userid":{},"R":{}}})", id, job->priority, job->userid, job->R);
    }
    sched_route_ = m.route.empty() ? std::string() : m.route.front();
    respond(m, fmt::format(R"({{"alloc":[{}]}})", list));
}

// job-manager.sched-ready {mode} -> {}
void JobManager::sched_ready(const Message& m)
{
    auto req = json::parse(m.payload);
    std::string mode = req.value("mode", "");
    if (mode != "unlimited" && mode != "single") {
        respond_error(m, EPROTO, fmt::format("unsupported scheduler mode \"{}\"", mode));
        return;
    }
    sched_ready_ = true;
    sched_route_ = m.route.empty() ? std::string() : m.route.front();
    respond(m);
    alloc_all();
    // Allocations whose free waited for a scheduler (it heard of them in
    // its hello): a job that ended while none was loaded, or one taken up
    // from the store at start.
    for (auto& [id, job] : jobs_)
        if (job->state == State::CLEANUP && job->has_resources && !job->exec_running)
            request_free(*job);
}

// Ask for resources for every job that wants them, in priority order.
void JobManager::alloc_all()
{
    std::vector<Job*> want;
    for (auto& [id, job] : jobs_)
        if (job->state == State::SCHED && !job->alloc_pending && job->priority > 0)
            want.push_back(job.get());
    std::sort(want.begin(), want.end(), [](const Job* a, const Job* b) {
        return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
    });
    for (Job* j : want)
        request_alloc(*j);
}

void JobManager::request_alloc(Job& job)
{
    if (!sched_ready_ || !queue_started_ || job.priority == 0 || job.alloc_pending || job.state != State::SCHED)
        return;
    job.alloc_pending = true;
    out(Message::request("sched.alloc",
                         fmt::format(R"({{"id":{},"priority":{},"userid":{},"t_submit":{:.6f},"jobspec":{}}})", job.id,
                                     job.priority, job.userid, job.t_submit, job.spec->sched_text)));
}

void JobManager::cancel_alloc(Job& job)
{
    if (!job.alloc_pending || !sched_ready_)
        return;
    out(Message::request("sched.cancel", fmt::format(R"({{"id":{}}})", job.id), NODEID_ANY, msgflag::noresponse));
}

void JobManager::request_free(Job& job)
{
    if (job.free_pending)
        return;
    if (!sched_ready_)
        return;  // sent when a scheduler says hello again (it learns of the allocation then)
    job.free_pending = true;
    out(Message::request("sched.free", fmt::format(R"({{"id":{},"R":{},"final":true}})", job.id, job.R)));
}

// Error responses mean the scheduler is gone (RFC 27 Finalization).
void JobManager::sched_lost(const std::string& why)
{
    if (!sched_ready_)
        return;
    h_.log(3, fmt::format("scheduler: {}: suspending scheduling", why));
    sched_ready_ = false;
    for (auto& [id, job] : jobs_) {
        job->alloc_pending = false;
        job->free_pending = false;
    }
}

// sched.alloc responses: {id, type: 0 success (R) | 1 annotate | 2 deny | 3 cancel}
void JobManager::alloc_response(const Message& m)
{
    if (m.errnum() != 0) {
        sched_lost(m.error_text().empty() ? "alloc failed" : m.error_text());
        return;
    }
    auto resp = json::parse(m.payload);
    JobId id = resp.at("id").get<JobId>();
    int type = resp.at("type").get<int>();
    Job* job = find(id);
    if (!job || !job->alloc_pending) {
        if (type == 0 && resp.contains("R")) {
            // We no longer want it (canceled meanwhile): give it back.
            out(Message::request("sched.free",
                                 fmt::format(R"({{"id":{},"R":{},"final":true}})", id, resp["R"].dump())));
        }
        return;
    }
    if (type == 0 && quiescing_ && job->state == State::SCHED) {
        // Granted as the instance shuts down: give it back; the job stays
        // pending for the next start.
        job->alloc_pending = false;
        out(Message::request("sched.free", fmt::format(R"({{"id":{},"R":{},"final":true}})", id, resp["R"].dump())));
        return;
    }
    switch (type) {
        case 0: {  // success
            job->alloc_pending = false;
            job->has_resources = true;
            job->R = resp.at("R").dump();
            if (auto r = db_->set_R(id, job->R); !r)
                h_.log(3, r.error().message());
            if (resp.contains("annotations"))
                job::merge_annotations(job->annotations, resp["annotations"]);
            if (job->state != State::SCHED) {
                // Canceled while the answer was in flight.
                advance(*job);
                return;
            }
            json ctx = json::object();
            if (job->annotations.is_object() && !job->annotations.empty())
                ctx["annotations"] = job->annotations;
            post(*job, "alloc", ctx);
            return;
        }
        case 1:  // annotate
            job::merge_annotations(job->annotations, resp.value("annotations", json::object()));
            journal_only(*job, "annotations", json{{"annotations", job->annotations}});
            return;
        case 2:  // deny
            job->alloc_pending = false;
            clear_annotations(*job);
            fatal_exception(*job, "alloc", resp.value("note", "resource allocation denied"), 0);
            return;
        case 3:  // canceled
            job->alloc_pending = false;
            clear_annotations(*job);
            if (job->state == State::CLEANUP)
                advance(*job);
            else if (job->state == State::SCHED)
                request_alloc(*job);  // e.g. held then released: ask again
            return;
        default:
            h_.log(3, fmt::format("sched.alloc: job {}: unknown response type {}", id, type));
    }
}

// sched.free response {id}
void JobManager::free_response(const Message& m)
{
    if (m.errnum() != 0) {
        sched_lost(m.error_text().empty() ? "free failed" : m.error_text());
        return;
    }
    auto resp = json::parse(m.payload);
    JobId id = resp.at("id").get<JobId>();
    Job* job = find(id);
    if (!job || !job->free_pending)
        return;
    job->free_pending = false;
    job->has_resources = false;
    post(*job, "free");
    post(*job, "clean");
}

}  // namespace flux::jobmgr
