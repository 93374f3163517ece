// The job manager's side of the exec protocol (doc/dev/exec.md): start a
// job on its allocation, signal it, and follow it to its final release.
#include <csignal>

#include <fmt/format.h>

#include "manager.hpp"

namespace flux::jobmgr {

void JobManager::start_exec(Job& job)
{
    job.exec_running = true;
    std::string payload = fmt::format(R"({{"id":{},"userid":{},"flags":{},"jobspec":{},"R":{}}})", job.id, job.userid,
                                      job.flags, job.spec->text, job.R);
    JobId id = job.id;
    // Sent after the commit like everything else (the alloc event first).
    after_commit_.push_back([this, id, payload = std::move(payload)]() mutable {
        Future f = h_.rpc("job-exec.start", std::move(payload), NODEID_ANY, msgflag::streaming);
        f.then([this, id](Future& fut) {
            auto r = fut.get();
            fut.reset();
            Job* job = find(id);
            if (!r) {
                if (r.error().errnum == ENODATA || !job || !job->exec_running)
                    return;
                // The exec service failed us: the job cannot run.
                job->exec_running = false;
                if (!job->fatal)
                    fatal_exception(*job, "exec", fmt::format("job-exec: {}", r.error().message()), 0);
                else
                    advance(*job);
                return;
            }
            exec_response(*r);
        });
    });
}

void JobManager::kill_exec(Job& job, int signum)
{
    out(Message::request("job-exec.kill", fmt::format(R"({{"id":{},"signum":{}}})", job.id, signum), NODEID_ANY,
                         msgflag::noresponse));
}

// job-exec.start responses: {id, type: start|exception|finish|release, data}
void JobManager::exec_response(const Message& m)
{
    auto resp = json::parse(m.payload);
    JobId id = resp.at("id").get<JobId>();
    std::string type = resp.at("type").get<std::string>();
    json data = resp.value("data", json::object());
    Job* job = find(id);
    if (!job || !job->exec_running)
        return;
    if (type == "start") {
        job->started = true;
        post(*job, "start");
        check_dependents(*job, true);
    } else if (type == "exception") {
        int severity = data.value("severity", 0);
        std::string etype = data.value("type", "exec");
        std::string note = data.value("note", "");
        if (severity == 0) {
            job->exec_killing = true;  // exec is already stopping the job its own way
            fatal_exception(*job, etype, note, 0);
        } else {
            post(*job, "exception", ojson{{"type", etype}, {"severity", severity}, {"userid", 0}, {"note", note}});
        }
    } else if (type == "finish") {
        job->finished = true;
        job->wait_status = data.value("status", 0);
        post(*job, "finish", ojson{{"status", job->wait_status}});
    } else if (type == "release") {
        bool final = data.value("final", false);
        post(*job, "release", ojson{{"ranks", data.value("ranks", "all")}, {"final", final}});
        if (final) {
            job->exec_running = false;
            if (job->state == State::RUN) {
                // Released without a finish: treat as a failure to run.
                fatal_exception(*job, "exec", "job released its resources without finishing", 0);
            } else if (job->state == State::CLEANUP) {
                advance(*job);
            }
        }
    }
}

}  // namespace flux::jobmgr
