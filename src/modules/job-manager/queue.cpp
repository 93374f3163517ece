// The queue: enable/disable submission, start/stop scheduling, and wait for
// the queue to drain (no active jobs) or go idle (nothing running).
#include <fmt/format.h>

#include "manager.hpp"

namespace flux::jobmgr {

// job-manager.queue-status -> {enable, disable_reason?, start, stop_reason?, pending, running, active}
void JobManager::queue_status(const Message& m)
{
    std::size_t pending = 0, running = 0;
    for (const auto& [id, job] : jobs_) {
        if (job->state == State::RUN || job->state == State::CLEANUP)
            running++;
        else if (job->state != State::INACTIVE)
            pending++;
    }
    json r{{"enable", queue_enabled_}, {"start", queue_started_}, {"pending", pending}, {"running", running}};
    if (!queue_enabled_)
        r["disable_reason"] = queue_disable_reason_;
    if (!queue_started_)
        r["stop_reason"] = queue_stop_reason_;
    respond(m, r.dump());
}

// job-manager.queue-enable {enable, reason?}
void JobManager::queue_enable(const Message& m)
{
    auto req = json::parse(m.payload);
    queue_enabled_ = req.at("enable").get<bool>();
    queue_disable_reason_ = queue_enabled_ ? "" : req.value("reason", "");
    respond(m);
}

// job-manager.queue-start {start, reason?}: stopping cancels outstanding
// allocation requests; starting sends them again.
void JobManager::queue_start(const Message& m)
{
    auto req = json::parse(m.payload);
    bool start = req.at("start").get<bool>();
    queue_stop_reason_ = start ? "" : req.value("reason", "");
    if (start != queue_started_) {
        queue_started_ = start;
        if (start) {
            alloc_all();
        } else {
            for (auto& [id, job] : jobs_)
                if (job->alloc_pending)
                    cancel_alloc(*job);
        }
    }
    respond(m);
}

void JobManager::queue_drain(const Message& m)
{
    drain_waiters_.push_back(m);
    check_queue_waiters();
}

void JobManager::queue_idle(const Message& m)
{
    idle_waiters_.push_back(m);
    check_queue_waiters();
}

void JobManager::check_queue_waiters()
{
    if (drain_waiters_.empty() && idle_waiters_.empty())
        return;
    std::size_t active = nactive_, running = nrunning_;
    if (active == 0) {
        for (auto& w : drain_waiters_)
            respond(w);
        drain_waiters_.clear();
    }
    if (running == 0) {
        for (auto& w : idle_waiters_)
            respond(w, json{{"pending", active}}.dump());
        idle_waiters_.clear();
    }
}

}  // namespace flux::jobmgr
