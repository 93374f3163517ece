// job-exec: runs jobs on their allocations (doc/dev/exec.md). For each job
// the job manager starts, it launches one flux-shell per rank of R through
// the brokers' rexec service, hands the shells their jobspec and R (in the
// request a zygote forks from, or by job-exec.shell-init), relays
// PMI key exchanges between them, delivers signals, enforces the time limit
// and reports start, exceptions, finish and release. Rank 0 only.
// The handler table is at the bottom of this file.
#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/clock.hpp>
#include <flux/jobutil.hpp>
#include <flux/module.hpp>
#include <flux/rlist.hpp>

#include "libflux/paths.hpp"

namespace flux::exec {

using json = nlohmann::json;
using JobId = std::uint64_t;

namespace {

struct Shell {
    std::uint32_t rank = 0;
    pid_t pid = 0;
    bool started = false;
    bool done = false;   // it has said it is exiting, or it has exited
    bool ended = false;  // its rexec stream is over (nothing more will come)
    int status = 0;
};

struct Job {
    JobId id = 0;
    std::uint32_t userid = 0;
    std::string jobspec;  // JSON text
    std::string R;        // JSON text
    Message start;        // the job-manager's request: responses go here
    std::vector<Shell> shells;
    std::size_t nstarted = 0, ndone = 0, nended = 0;
    int status = 0;  // worst shell wait status
    bool start_sent = false;
    bool over = false;    // finish and release sent; kept until every rexec stream ends
    bool failed = false;  // an exception was reported
    TimerPtr expire, escalate;
    // PMI exchange round in progress
    std::vector<Message> pmi_waiting;
    json pmi_kvs = json::object();
};

class Exec {
public:
    Exec(Handle& h, double kill_timeout)
        : h_(h), kill_timeout_(kill_timeout), shell_(paths::libexec_dir() + "/flux-shell")
    {
        if (const char* s = getenv("FLUX_SHELL_PATH"); s && *s) {
            shell_ = s;
            own_shell_ = false;
        }
        // Our own shell is forked by a warm `flux-shell --zygote` on each
        // node (see src/shell/zygote.cpp); another shell, or
        // FLUX_EXEC_NO_ZYGOTE set, is spawned afresh for every job.
        zygote_ = own_shell_ && !getenv("FLUX_EXEC_NO_ZYGOTE");
    }
    void start(const Message& m);
    void kill(const Message& m);
    void shell_init(const Message& m);
    void shell_exit(const Message& m);
    void pmi_exchange(const Message& m);
    void disconnect(const Message& m);

private:
    void launch(Job& job, std::size_t i);
    void send(Job& job, const std::string& type, const json& data = json::object());
    void exception(Job& job, const std::string& type, const std::string& note);
    void signal_all(Job& job, int signum);
    void shell_done(Job& job, std::size_t i, int status);
    void shell_started(Job& job, std::size_t i);
    void stream_ended(Job& job, std::size_t i);
    void arm_escalation(Job& job);
    // {id, userid, nshells, jobspec, R}: what a shell needs to start.
    static std::string shell_info(const Job& job);
    Job* find(JobId id)
    {
        auto it = jobs_.find(id);
        return it == jobs_.end() ? nullptr : it->second.get();
    }
    /// A job still running (not over).
    Job* running(JobId id)
    {
        Job* j = find(id);
        return j && !j->over ? j : nullptr;
    }

    Handle& h_;
    double kill_timeout_;
    std::string shell_;
    bool own_shell_ = true;  // flux-shell, not one FLUX_SHELL_PATH names
    bool zygote_ = true;
    std::unordered_map<JobId, std::unique_ptr<Job>> jobs_;
};

void Exec::send(Job& job, const std::string& type, const json& data)
{
    (void)h_.respond(job.start, json{{"id", job.id}, {"type", type}, {"data", data}}.dump());
}

void Exec::exception(Job& job, const std::string& type, const std::string& note)
{
    if (job.failed)
        return;
    job.failed = true;
    send(job, "exception", json{{"type", type}, {"severity", 0}, {"note", note}});
}

// job-exec.start {id, userid, flags, jobspec, R} (streaming)
void Exec::start(const Message& m)
{
    if (!m.has_flag(msgflag::streaming)) {
        (void)h_.respond_error(m, EPROTO, "job-exec.start requires a streaming request");
        return;
    }
    auto req = json::parse(m.payload);
    auto job = std::make_unique<Job>();
    job->id = req.at("id").get<JobId>();
    job->userid = req.at("userid").get<std::uint32_t>();
    job->start = m;
    if (jobs_.contains(job->id)) {
        (void)h_.respond_error(m, EEXIST, "job is already running");
        return;
    }
    auto R = Rlist::from_json(req.at("R"));
    if (!R || R->empty()) {
        (void)h_.respond_error(m, EINVAL, R ? "R has no resources" : R.error().message());
        return;
    }
    job->jobspec = req.at("jobspec").dump();
    job->R = req.at("R").dump();
    for (auto rank : R->ranks())
        job->shells.push_back(Shell{rank});
    Job& ref = *job;
    jobs_.emplace(job->id, std::move(job));
    if (double exp = R->expiration(); exp > 0) {
        JobId id = ref.id;
        ref.expire = h_.reactor().timer(std::max(exp - wall_time(), 0.0), 0, [this, id] {
            Job* j = running(id);
            if (!j)
                return;
            exception(*j, "timeout", "resource allocation expired");
            signal_all(*j, SIGALRM);
            arm_escalation(*j);
        });
    }
    for (std::size_t i = 0; i < ref.shells.size(); i++)
        launch(ref, i);
}

void Exec::launch(Job& job, std::size_t i)
{
    JobId id = job.id;
    // Our shell is told its broker's rank; another gets `SHELL JOBID`.
    json cmd = json::array({shell_, std::to_string(id)});
    if (own_shell_)
        cmd.push_back(fmt::format("--rank={}", job.shells[i].rank));
    json req{{"cmd", std::move(cmd)}, {"kill_group", true}, {"zygote", zygote_}, {"eof", false}};
    std::string payload = req.dump();
    // A shell forked by the zygote gets what shell-init would answer in
    // the request itself: one round trip less before its tasks start.
    if (zygote_) {
        payload.pop_back();
        payload += R"(,"data":)" + shell_info(job) + "}";
    }
    Future f = h_.rpc("rexec.exec", payload, job.shells[i].rank, msgflag::streaming);
    f.then([this, id, i](Future& fut) {
        auto r = fut.get();
        fut.reset();
        Job* job = find(id);
        if (!job)
            return;
        Shell& sh = job->shells[i];
        if (!r) {
            if (r.error().errnum != ENODATA && !sh.done) {
                exception(*job, "exec",
                          fmt::format("cannot start job shell on rank {}: {}", sh.rank, r.error().message()));
                signal_all(*job, SIGKILL);
                shell_done(*job, i, 127 << 8);
            }
            stream_ended(*job, i);  // may destroy the job
            return;
        }
        auto resp = json::parse(r->payload);
        std::string type = resp.value("type", "");
        if (type == "started") {
            sh.pid = resp.at("pid").get<pid_t>();
            shell_started(*job, i);
        } else if (type == "output") {
            std::string data = resp.value("data", "");
            while (!data.empty() && data.back() == '\n')
                data.pop_back();
            h_.log(3, fmt::format("job {} shell rank {}: {}", id, sh.rank, data));
        } else if (type == "finished") {
            shell_done(*job, i, resp.at("status").get<int>());
        }
    });
}

void Exec::shell_started(Job& job, std::size_t i)
{
    Shell& sh = job.shells[i];
    if (sh.started)
        return;
    sh.started = true;
    if (++job.nstarted == job.shells.size() && !job.start_sent && !job.failed && !job.over) {
        job.start_sent = true;
        send(job, "start");
    }
}

void Exec::stream_ended(Job& job, std::size_t i)
{
    Shell& sh = job.shells[i];
    if (sh.ended)
        return;
    sh.ended = true;
    if (++job.nended == job.shells.size() && job.over)
        jobs_.erase(job.id);
}

void Exec::shell_done(Job& job, std::size_t i, int status)
{
    Shell& sh = job.shells[i];
    if (sh.done)
        return;
    sh.done = true;
    sh.status = status;
    if (WIFSIGNALED(status) && !job.failed) {
        // Not our doing (ours follows an exception): the shell died. Its
        // tasks went with it (kill_group); end the job's other shells too.
        exception(job, "exec", fmt::format("job shell on rank {} died: {}", sh.rank, strsignal(WTERMSIG(status))));
        signal_all(job, SIGKILL);
    }
    if (job.ndone == 0 || job::exit_code(status) > job::exit_code(job.status))
        job.status = status;
    if (++job.ndone < job.shells.size())
        return;
    // Every shell is gone: the job is over.
    if (!job.start_sent && !job.failed)
        exception(job, "exec", "job shells exited before the job started");
    send(job, "finish", json{{"status", job.status}});
    send(job, "release", json{{"ranks", "all"}, {"final", true}});
    for (auto& w : job.pmi_waiting)
        (void)h_.respond_error(w, ECONNRESET, "job is over");
    job.pmi_waiting.clear();
    (void)h_.respond_error(job.start, ENODATA);
    job.over = true;
    job.expire.reset();
    job.escalate.reset();
    // A shell that said it was exiting may still have lines for our log
    // on its stderr: the job stays until its rexec streams end.
    if (job.nended == job.shells.size())
        jobs_.erase(job.id);
}

void Exec::signal_all(Job& job, int signum)
{
    for (const auto& sh : job.shells) {
        // A shell that said it is exiting may still be tearing down, its
        // process group with it: it is signaled until its stream ends.
        if (!sh.started || sh.ended)
            continue;
        Future f = h_.rpc("rexec.kill", json{{"pid", sh.pid}, {"signum", signum}}.dump(), sh.rank);
        f.then([](Future& fut) { (void)fut.get(); });
    }
}

void Exec::arm_escalation(Job& job)
{
    if (job.escalate)
        return;
    JobId id = job.id;
    job.escalate = h_.reactor().timer(kill_timeout_, 0, [this, id] {
        if (Job* j = running(id))
            signal_all(*j, SIGKILL);
    });
}

// job-exec.kill {id, signum} (no response): SIGTERM starts the countdown
// to SIGKILL, as a cancel does.
void Exec::kill(const Message& m)
{
    auto req = json::parse(m.payload);
    Job* job = find(req.at("id").get<JobId>());
    int signum = req.value("signum", SIGTERM);
    if (job) {
        signal_all(*job, signum);
        if (signum == SIGTERM && !job->over)
            arm_escalation(*job);
    }
    if (!m.has_flag(msgflag::noresponse))
        (void)h_.respond(m, "{}");
}

// job-exec.shell-init {id} -> {id, userid, nshells, jobspec, R}
void Exec::shell_init(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    Job* job = running(id);
    if (!job) {
        (void)h_.respond_error(m, ENOENT, "job is not running");
        return;
    }
    (void)h_.respond(m, shell_info(*job));
}

// job-exec.shell-exit {id, rank, status} (no response): a shell of ours
// says it is about to exit with wait status `status`, its tasks done and
// its output sent. The job can finish now rather than once the shell's
// exit has been reaped and reported through rexec; what the shell sent
// before this (its last output) was routed ahead of it. A shell that says
// nothing is heard of when its exit is reported, as before.
void Exec::shell_exit(const Message& m)
{
    auto req = json::parse(m.payload);
    Job* job = running(req.at("id").get<JobId>());
    if (!job)
        return;
    auto rank = req.at("rank").get<std::uint32_t>();
    for (std::size_t i = 0; i < job->shells.size(); i++) {
        if (job->shells[i].rank != rank || job->shells[i].done)
            continue;
        shell_started(*job, i);  // its "started" may still be on its way
        shell_done(*job, i, req.at("status").get<int>());
        return;
    }
}

std::string Exec::shell_info(const Job& job)
{
    return fmt::format(R"({{"id":{},"userid":{},"nshells":{},"jobspec":{},"R":{}}})", job.id, job.userid,
                       job.shells.size(), job.jobspec, job.R);
}

// job-exec.pmi-exchange {id, shell_rank, kvs} -> {kvs} once every shell of
// the job has sent its part of this round.
void Exec::pmi_exchange(const Message& m)
{
    auto req = json::parse(m.payload);
    Job* job = running(req.at("id").get<JobId>());
    if (!job) {
        (void)h_.respond_error(m, ENOENT, "job is not running");
        return;
    }
    const json& kvs = req.at("kvs");
    if (!kvs.is_object()) {
        (void)h_.respond_error(m, EPROTO, "kvs must be an object");
        return;
    }
    job->pmi_kvs.update(kvs);
    job->pmi_waiting.push_back(m);
    if (job->pmi_waiting.size() < job->shells.size())
        return;
    std::string payload = json{{"kvs", job->pmi_kvs}}.dump();
    for (auto& w : job->pmi_waiting)
        (void)h_.respond(w, payload);
    job->pmi_waiting.clear();
}

// A client went away. When it is the job manager that started jobs (it was
// unloaded or reloaded), nobody would hear of their ends any more: kill
// them. A job manager that starts again fails them from its store.
void Exec::disconnect(const Message& m)
{
    for (auto& [id, job] : jobs_) {
        std::erase_if(job->pmi_waiting, [&](const Message& w) { return w.route == m.route; });
        if (!job->over && job->start.route == m.route)
            signal_all(*job, SIGKILL);
    }
}

int job_exec_main(Handle& h, const std::vector<std::string>& args)
{
    h.set_log_name("job-exec");
    double kill_timeout = 5.0;
    if (auto c = h.rpc("config.get", "{}").get(); c) {
        try {
            auto conf = json::parse(c->payload);
            if (auto e = conf.find("exec"); e != conf.end() && e->is_object() && e->contains("kill-timeout")) {
                const auto& v = (*e)["kill-timeout"];
                if (v.is_number())
                    kill_timeout = v.get<double>();
                else
                    h.log(3, "[exec] kill-timeout must be a number of seconds; using 5");
            }
        } catch (const std::exception&) {
        }
    }
    for (const auto& a : args)
        if (a.starts_with("kill-timeout="))
            kill_timeout = std::strtod(a.c_str() + 13, nullptr);
    Exec exec(h, kill_timeout);
    static const struct {
        const char* topic;
        void (Exec::*fn)(const Message&);
        uint32_t roles;
    } table[] = {
        {"job-exec.start", &Exec::start, role::owner},
        {"job-exec.kill", &Exec::kill, role::owner},
        {"job-exec.shell-init", &Exec::shell_init, role::owner},
        {"job-exec.shell-exit", &Exec::shell_exit, role::owner},
        {"job-exec.pmi-exchange", &Exec::pmi_exchange, role::owner},
        {"job-exec.disconnect", &Exec::disconnect, role::all},
    };
    for (const auto& e : table) {
        h.add_handler(
            MsgType::request, e.topic,
            [&exec, &h, fn = e.fn](const Message& m) {
                try {
                    (exec.*fn)(m);
                } catch (const std::exception& ex) {
                    if (!m.has_flag(msgflag::noresponse))
                        (void)h.respond_error(m, EPROTO, fmt::format("{}: malformed request: {}", m.topic, ex.what()));
                }
            },
            e.roles);
    }
    return h.reactor().run();
}

}  // namespace

}  // namespace flux::exec

FLUX_MODULE("job-exec", flux::exec::job_exec_main)
