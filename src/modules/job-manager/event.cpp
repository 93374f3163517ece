// Events and state transitions (RFC 21): every change to a job is an event
// appended to its eventlog; the state follows from the events.
#include <csignal>
#include <ctime>

#include <fmt/format.h>

#include <flux/clock.hpp>

#include "manager.hpp"
#include "replay.hpp"

namespace flux::jobmgr {

namespace {

}  // namespace

void JobManager::post(Job& job, const std::string& name, const ojson& context)
{
    post_text(job, name,
              context.empty() ? std::string() : context.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Append {timestamp, name, context} to the job's eventlog, apply the state
// change it implies, and tell watchers and journal readers.
void JobManager::post_text(Job& job, const std::string& name, const std::string& context_text)
{
    std::string entry = context_text.empty() ? fmt::format(R"({{"timestamp":{:.6f},"name":"{}"}})", wall_time(), name)
                                             : fmt::format(R"({{"timestamp":{:.6f},"name":"{}","context":{}}})",
                                                           wall_time(), name, context_text);
    if (!job.unstored)
        if (auto r = db_->append(job.id, Log::eventlog, job.next_seq[static_cast<int>(Log::eventlog)]++, entry); !r)
            h_.log(3, fmt::format("job {}: {}", job.id, r.error().message()));

    State prev = job.state;
    job.state = job_state_after(job.state, name, job.fatal);

    // Journal: {"id":..,"entry":..} plus documents readers need once.
    std::string extra;
    if (name == "submit")
        extra = fmt::format(R"(,"jobspec":{})", !job.spec                     ? "null"
                                                : job.spec->list_text.empty() ? job.spec->text
                                                                              : job.spec->list_text);
    else if (name == "alloc")
        extra = fmt::format(R"(,"R":{})", job.R.empty() ? "null" : job.R);
    if (!journals_.empty())
        add_journal_record(journal_batch_, job.id, entry, extra);
    notify(job.id, Log::eventlog, entry);
    if (job.state != prev) {
        auto running = [](State s) { return s == State::RUN || s == State::CLEANUP; };
        nrunning_ += static_cast<std::size_t>(running(job.state)) - static_cast<std::size_t>(running(prev));
        if (job.state == State::INACTIVE)
            nactive_--;
        advance(job);
    }
}

// Act on the job's state: start the next step the state calls for.
void JobManager::advance(Job& job)
{
    switch (job.state) {
        case State::NEW:
            post(job, "validate");
            return;
        case State::DEPEND:
            resolve_deps(job);
            if (job.state == State::DEPEND && job.deps.empty())
                post(job, "depend");
            return;
        case State::PRIORITY: {
            // Default priority: the urgency, with 0 (held) and 31 (expedite) at
            // the ends of the range, as flux-core's builtin priority plugin.
            job.priority = job.urgency == 0    ? 0u
                           : job.urgency == 31 ? 4294967295u
                                               : static_cast<std::uint32_t>(job.urgency);
            post(job, "priority", ojson{{"priority", job.priority}});
            return;
        }
        case State::SCHED:
            request_alloc(job);
            return;
        case State::RUN:
            start_exec(job);
            return;
        case State::CLEANUP:
            if (job.alloc_pending)
                cancel_alloc(job);
            if (job.exec_running) {
                if (!job.finished && !job.exec_killing)
                    kill_exec(job, SIGTERM);
                return;  // free once exec releases the resources
            }
            if (job.has_resources) {
                request_free(job);
                return;
            }
            if (!job.alloc_pending)
                post(job, "clean");
            return;
        case State::INACTIVE:
            enter_inactive(job);
            return;
    }
}

void JobManager::journal_only(Job& job, const std::string& name, const json& context)
{
    if (journals_.empty())
        return;
    add_journal_record(journal_batch_, job.id,
                       fmt::format(R"({{"timestamp":{:.6f},"name":"{}","context":{}}})", wall_time(), name,
                                   context.dump(-1, ' ', false, json::error_handler_t::replace)),
                       "");
}

void add_journal_record(std::string& batch, JobId id, std::string_view entry, std::string_view extra)
{
    if (!batch.empty())
        batch += ',';
    batch += fmt::format(R"({{"id":{},"entry":{}{}}})", id, entry, extra);
}

// The scheduler's annotations lapse when it gives up on a job (deny, cancel).
void JobManager::clear_annotations(Job& job)
{
    if (job.annotations.is_null())
        return;
    job.annotations = nullptr;
    journal_only(job, "annotations", json{{"annotations", nullptr}});
}

JobResult JobManager::result_of(const Job& job) const
{
    return job_result(job.fatal, job.fatal_type, job.wait_status);
}

void JobManager::enter_inactive(Job& job)
{
    JobResult result = result_of(job);
    results_[job.id] = result;
    if (!job.unstored)
        if (auto r = db_->set_inactive(job.id, true); !r)
            h_.log(3, r.error().message());

    // End every watch on this job: nothing more will be appended.
    if (auto it = watches_.find(job.id); it != watches_.end()) {
        for (auto& w : it->second)
            out(Message::error_to(w.req, ENODATA));
        watches_.erase(it);
    }
    if (job.flags & jobflag::waitable) {
        std::string errstr;
        if (result != JobResult::COMPLETED) {
            if (job.fatal)
                errstr = fmt::format("Fatal exception type={} {}", job.fatal_type, job.fatal_note);
            else if (WIFSIGNALED(job.wait_status))
                errstr = fmt::format("task(s) {}", strsignal(WTERMSIG(job.wait_status)));
            else
                errstr = fmt::format("task(s) exited with exit code {}", WEXITSTATUS(job.wait_status));
        }
        zombies_[job.id] = Zombie{result == JobResult::COMPLETED, errstr, job.userid};
    }
    check_dependents(job, false);
    JobId id = job.id;
    job.spec.reset();
    reap_.push_back(id);  // erased in flush(): callers up the stack still hold it
    // Waiters for this job (or any job) may now be answered.
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        auto z = zombies_.find(it->second != 0 ? it->second : id);
        if (z != zombies_.end() && (it->second == id || (it->second == 0 && z->second.userid == it->first.userid))) {
            out(Message::response_to(
                it->first,
                json{{"id", z->first}, {"success", z->second.success}, {"errstr", z->second.errstr}}.dump()));
            zombies_.erase(z);
            it = waiters_.erase(it);
        } else {
            ++it;
        }
    }
    check_queue_waiters();
}

void JobManager::fatal_exception(Job& job, const std::string& type, const std::string& note, std::uint32_t userid)
{
    if (job.state == State::INACTIVE)
        return;
    bool first = !job.fatal;
    if (first) {
        job.fatal = true;
        job.fatal_type = type;
        job.fatal_note = note;
    }
    ojson ctx{{"type", type}, {"severity", 0}, {"userid", userid}, {"note", note}};
    post(job, "exception", ctx);
    // Already in CLEANUP (a second exception): make sure exec hears it.
    if (!first && job.state == State::CLEANUP && job.exec_running && !job.finished)
        kill_exec(job, SIGTERM);
}

}  // namespace flux::jobmgr
