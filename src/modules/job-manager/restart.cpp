// Across restarts of the instance: quiescing before a shutdown (as
// flux-core's rc3: stop the queue, cancel what runs, wait for it to end) and
// taking up the active jobs of the last run at start.
#include <algorithm>

#include <fmt/format.h>

#include <flux/jobid.hpp>

#include "manager.hpp"
#include "replay.hpp"

namespace flux::jobmgr {

void JobManager::restart()
{
    auto ids = db_->ids(true);
    if (!ids) {
        h_.log(2, fmt::format("restart: {}", ids.error().message()));
        return;
    }
    std::vector<Job*> loaded;
    for (JobId id : *ids) {
        auto fail = [&](const std::string& why) { h_.log(3, fmt::format("restart: job {}: {}", id, why)); };
        auto entries = db_->entries(id, Log::eventlog);
        if (!entries) {
            fail(entries.error().message());
            continue;
        }
        auto rp = replay_eventlog(*entries);
        if (!rp) {
            fail(rp.error().message());
            continue;
        }
        if (rp->state == State::INACTIVE) {  // ended, but not marked so before the last run stopped
            results_[id] = job_result(rp->fatal, rp->fatal_type, rp->wait_status);
            (void)db_->set_inactive(id, true);
            continue;
        }
        auto job = std::make_unique<Job>();
        job->id = id;
        job->userid = rp->userid;
        job->urgency = rp->urgency;
        job->priority = rp->priority;
        job->flags = rp->flags;
        job->state = rp->state;
        job->t_submit = rp->t_submit;
        job->started = rp->started;
        job->finished = rp->finished;
        job->wait_status = rp->wait_status;
        job->fatal = rp->fatal;
        job->fatal_type = rp->fatal_type;
        job->fatal_note = rp->fatal_note;
        for (int log = 0; log < 4; log++) {
            auto next = db_->next_seq(id, static_cast<Log>(log));
            job->next_seq[log] = next ? *next : 0;
        }
        if (rp->allocated) {
            if (auto R = db_->R(id)) {
                job->R = std::move(*R);
                job->has_resources = true;
            }
        }
        for (const auto& desc : rp->deps) {
            auto colon = desc.find(':');
            auto target =
                parse_jobid(colon == std::string::npos ? std::string_view() : std::string_view(desc).substr(colon + 1));
            job->deps.push_back(Dependency{desc.substr(0, colon), target ? *target : 0, desc});
        }
        std::string err;
        if (auto text = db_->jobspec(id); text)
            job->spec = intern(*text, nullptr, err);
        else
            err = text.error().message();
        if (!job->spec)
            fail(fmt::format("jobspec: {}", err));
        Job& ref = *job;
        jobs_.emplace(id, std::move(job));
        nactive_++;
        if (ref.state == State::RUN || ref.state == State::CLEANUP)
            nrunning_++;
        loaded.push_back(&ref);
    }
    if (loaded.empty())
        return;
    std::size_t pending = 0, running = 0;
    for (Job* job : loaded) {
        bool has_spec = job->spec != nullptr;
        switch (job->state) {
            case State::NEW:
            case State::DEPEND:
            case State::PRIORITY:
            case State::SCHED:
                pending++;
                if (!has_spec) {
                    fatal_exception(*job, "restart", "the job's jobspec could not be read back from the store", 0);
                    break;
                }
                if (job->state == State::SCHED) {
                    post(*job, "flux-restart");  // RFC 21: back to PRIORITY, and on to SCHED
                } else if (job->state == State::DEPEND) {
                    for (const auto& d : job->deps)
                        if (d.target == 0) {
                            fatal_exception(*job, "dependency", fmt::format("{}: not a job id", d.description),
                                            job->userid);
                            break;
                        }
                    if (job->state == State::DEPEND) {
                        evaluate_deps(*job);
                        if (job->state == State::DEPEND && job->deps.empty())
                            post(*job, "depend");
                    }
                } else {
                    advance(*job);
                }
                break;
            case State::RUN:
                // Its shells ended with the broker or job manager that
                // started them (job-exec kills a job whose starter is gone).
                running++;
                fatal_exception(*job, "exec", "the job manager restarted while the job was running", 0);
                break;
            case State::CLEANUP:
                running++;
                advance(*job);
                break;
            case State::INACTIVE:
                break;
        }
    }
    h_.log(6, fmt::format("restart: {} pending job(s) queued again, {} running job(s) ended", pending, running));
}

std::optional<JobResult> JobManager::stored_result(JobId id)
{
    if (auto it = results_.find(id); it != results_.end())
        return it->second;
    if (jobs_.contains(id) || id > max_id_)
        return std::nullopt;
    auto entries = db_->entries(id, Log::eventlog);
    if (!entries || entries->empty())
        return std::nullopt;
    auto rp = replay_eventlog(*entries);
    if (!rp || rp->state != State::INACTIVE)
        return std::nullopt;
    JobResult r = job_result(rp->fatal, rp->fatal_type, rp->wait_status);
    results_[id] = r;
    return r;
}

// job-manager.quiesce (the broker, as it begins to shut down) -> {} once
// nothing runs: allocate nothing more, cancel the running jobs and wait for
// them to end, so their ends are stored. Pending jobs stay in the store and
// are queued again when an instance starts on it.
void JobManager::quiesce(const Message& m)
{
    quiescing_ = true;
    if (queue_started_) {
        queue_started_ = false;
        queue_stop_reason_ = "the instance is shutting down";
        for (auto& [id, job] : jobs_)
            if (job->alloc_pending)
                cancel_alloc(*job);
    }
    std::vector<JobId> running;
    for (const auto& [id, job] : jobs_)
        if (job->state == State::RUN)
            running.push_back(id);
    std::sort(running.begin(), running.end());
    for (JobId id : running)
        if (Job* job = find(id))
            fatal_exception(*job, "cancel", "the instance is shutting down", m.userid);
    quiesce_waiters_.push_back(m);
    check_quiesced();
}

// Quiesced: nothing runs and no allocation is outstanding (one that is
// granted now is given back: the job stays pending). Without a scheduler,
// a job whose only step left is to free its resources cannot take it: it
// is not waited for.
void JobManager::check_quiesced()
{
    if (quiesce_waiters_.empty())
        return;
    auto busy = [this](const Job& j) {
        if (j.state == State::RUN)
            return true;
        if (j.state == State::CLEANUP)
            return sched_ready_ || j.exec_running || !j.has_resources;
        return sched_ready_ && j.alloc_pending;
    };
    for (const auto& [id, job] : jobs_)
        if (busy(*job))
            return;
    for (const auto& w : quiesce_waiters_)
        respond(w);
    quiesce_waiters_.clear();
}

}  // namespace flux::jobmgr
