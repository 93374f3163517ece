// flux-shell: runs one job's tasks on one broker's node (one shell per rank
// of the job's R). Started by job-exec through rexec as `flux-shell JOBID`.
// It asks job-exec for the jobspec and R, starts its share of the tasks with
// the flux-environment(7) variables, binds them to the allocated cores,
// serves PMI-1 on PMI_FD (exchanging keys with the other shells through
// job-exec), carries stdout/stderr into the job's output log (RFC 24) or
// into files, and exits with the largest task exit code (128+signal for a
// task killed by a signal). Protocol: doc/dev/exec.md.
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <clocale>
#include <csignal>
#include <filesystem>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/archive.hpp>
#include <flux/clock.hpp>
#include <flux/handle.hpp>
#include <flux/idset.hpp>
#include <flux/jobid.hpp>
#include <flux/jobspec.hpp>
#include <flux/jobutil.hpp>
#include <flux/pmi.hpp>
#include <flux/rlist.hpp>

#include "layout.hpp"
#include "libflux/cstrings.hpp"
#include "zygote.hpp"

extern char** environ;

namespace flux::shell {

using json = nlohmann::json;

namespace {

// RFC 24 task ranks: "all" (nullopt) or an idset.
Result<std::optional<IdSet>> parse_ranks(const std::string& s)
{
    if (s == "all")
        return std::optional<IdSet>();
    auto ids = IdSet::parse(s);
    if (!ids)
        return std::unexpected(ids.error());
    return std::optional<IdSet>(std::move(*ids));
}

// Expand {{id}} (and {{jobid}}, {{name}}, {{tmpdir}}) in an output file
// template or a command argument.
std::string expand(std::string tmpl, const std::string& id, const std::string& name, const std::string& tmpdir = {})
{
    if (tmpl.find("{{") == std::string::npos)
        return tmpl;
    auto sub = [&](const std::string& key, const std::string& val) {
        std::size_t p;
        while ((p = tmpl.find(key)) != std::string::npos)
            tmpl.replace(p, key.size(), val);
    };
    sub("{{id}}", id);
    sub("{{jobid}}", id);
    sub("{{name}}", name);
    if (!tmpdir.empty())
        sub("{{tmpdir}}", tmpdir);
    return tmpl;
}

struct Task {
    std::uint32_t rank = 0;      // global
    std::uint32_t local_id = 0;  // on this node
    pid_t pid = -1;
    int status = 0;
    bool exited = false;
    int out_fd = -1, err_fd = -1, pmi_fd = -1;
    WatcherPtr out_w, err_w, pmi_w, child_w;
    std::string pmi_in;
    bool pty = false;     // stdin/stdout/stderr are a terminal; out_fd is its master
    int in_fd = -1;       // write end of the task's stdin (forwarded input)
    std::string in_buf;   // input not yet written
    bool in_eof = false;  // close stdin once in_buf is written
    WatcherPtr in_w;
};

class Shell {
public:
    /// `given`: the job's {id, jobspec, R} from the zygote's request; when
    /// null the shell asks job-exec for them. `conn_by_broker`: our
    /// connection was made by the broker (from the zygote), which routes
    /// all we sent before it reports our exit.
    Shell(Handle& h, JobId id, std::optional<std::uint32_t> rank, const json* given, bool conn_by_broker)
        : h_(h), id_(id), given_rank_(rank), given_(given), conn_by_broker_(conn_by_broker)
    {
    }
    int run();

private:
    Result<void> init();
    void start_tasks();
    Result<void> spawn(Task& t);
    Result<void> spawn_on_pty(Task& t);
    int launch(Task& t, posix_spawn_file_actions_t& fa, short flags);
    void on_output(Task& t, bool is_stderr);
    void watch_input();
    void on_input(const json& entry);
    void pump_input(std::size_t idx);
    void on_pmi(std::size_t idx);
    void send_pmi_output();
    void on_exit(Task& t, int status);
    void emit(const std::string& name, json ctx);
    void log_error(const std::string& msg);
    void flush_output(bool final = false);
    void check_done();
    std::string file_for(const std::string& stream) const;

    Handle& h_;
    JobId id_;
    std::optional<std::uint32_t> given_rank_;
    const json* given_;
    bool conn_by_broker_;
    std::string idstr_;
    job::Jobspec js_;
    Rlist R_;
    std::uint32_t rank_ = 0, shell_rank_ = 0, nshells_ = 0;
    TaskMap map_;
    std::vector<Task> tasks_;
    std::vector<int> cpus_;
    std::string gpus_;
    json options_;
    std::unique_ptr<PmiServer> pmi_;
    std::vector<std::string> env_;
    std::vector<std::string> argv_;  // the command, templates expanded
    std::string tmpdir_;             // FLUX_JOB_TMPDIR, removed at exit
    WatcherPtr prepare_;
    TimerPtr orphan_kill_;
    std::vector<WatcherPtr> sigw_;
    json pending_ = json::array();  // output entries not yet sent
    int inflight_ = 0;
    std::size_t open_streams_ = 0;
    std::size_t exited_ = 0;
    int file_fd_[2] = {-1, -1};  // stdout/stderr redirected to files
    bool label_[2] = {false, false};
    bool done_ = false;
    bool raised_ = false;   // an exception was raised on the job
    bool init_ok_ = false;  // init() succeeded: there are tasks to report on
    int exit_code_ = 0;
    bool pmi_debug_ = getenv("FLUX_PMI_DEBUG") != nullptr;
    // Standard input: /dev/null, a file (input.stdin type "file"), or the
    // job's input log (type "log", written by flux run / flux job attach),
    // to the tasks in stdin_ranks_ (all when unset).
    std::string stdin_type_, stdin_path_;
    std::optional<IdSet> stdin_ranks_;
    Future input_watch_;
    // pty: these tasks (rank 0 by default) get a terminal of this size
    // (flux alloc from a terminal: the child's initial program is
    // interactive); its output is the task's stdout, input goes to it.
    bool pty_ = false;
    std::optional<IdSet> pty_ranks_;
    struct winsize winsize_ {};
};

void Shell::emit(const std::string& name, json ctx)
{
    pending_.push_back(json{{"timestamp", wall_time()}, {"name", name}, {"context", std::move(ctx)}});
}

// Shell diagnostics go to the job's stderr, as flux-core's shell log does.
void Shell::log_error(const std::string& msg)
{
    std::string line = fmt::format("flux-shell[{}]: ERROR: {}\n", shell_rank_, msg);
    if (file_fd_[1] >= 0)
        (void)!write(file_fd_[1], line.data(), line.size());
    else
        emit("data", json{{"stream", "stderr"},
                          {"rank", std::to_string(map_.first.empty() ? 0 : map_.first[shell_rank_])},
                          {"data", line}});
}

// Send the output entries gathered so far (called before the loop blocks).
// The header alone waits for company unless `final`: a job without output
// then costs one append, not two.
void Shell::flush_output(bool final)
{
    if (pending_.empty() || (!final && pending_.size() == 1 && (*pending_.begin())["name"] == "header"))
        return;
    json req{{"id", id_}, {"log", "output"}, {"entries", std::move(pending_)}};
    pending_ = json::array();
    std::string payload = req.dump(-1, ' ', false, json::error_handler_t::replace);
    if (final && conn_by_broker_) {
        // Our last entries need no answer: the broker routes them before
        // it reports our exit, so they reach the job manager ahead of
        // job-exec's finish; the job manager logs a failure to store them.
        // Not waiting takes a round trip and a commit off every job's end.
        (void)h_.send(Message::request("job-info.append", std::move(payload), NODEID_ANY, msgflag::noresponse));
        return;
    }
    inflight_++;
    Future f = h_.rpc("job-info.append", std::move(payload));
    f.then([this](Future& fut) {
        if (auto r = fut.get(); !r)
            fprintf(stderr, "flux-shell: job %ju: output lost: %s\n", static_cast<uintmax_t>(id_),
                    r.error().message().c_str());
        inflight_--;
        check_done();
    });
}

std::string Shell::file_for(const std::string& stream) const
{
    auto out = options_.find("output");
    if (out == options_.end() || !out->is_object())
        return "";
    auto s = out->find(stream);
    if (s == out->end() || !s->is_object() || s->value("type", "") != "file")
        return "";
    return s->value("path", "");
}

Result<void> Shell::init()
{
    json fetched;
    const json* given = given_ && given_->is_object() ? given_ : nullptr;
    if (given && given->value("id", JobId{0}) != id_)
        return fail(EPROTO, "the zygote's data is for another job");
    if (!given) {
        auto r = h_.rpc("job-exec.shell-init", json{{"id", id_}}.dump()).get();
        if (!r)
            return fail(r.error().errnum, "job-exec.shell-init: " + r.error().message());
        fetched = json::parse(r->payload);
    }
    const json& info = given ? *given : fetched;
    auto js = job::Jobspec::from_json(info.at("jobspec"));
    if (!js)
        return std::unexpected(js.error());
    js_ = std::move(*js);
    auto R = Rlist::from_json(info.at("R"));
    if (!R)
        return std::unexpected(R.error());
    R_ = std::move(*R);
    // job-exec names our broker's rank on the command line; asked otherwise.
    auto rank = given_rank_ ? Result<std::uint32_t>(*given_rank_) : h_.rank();
    if (!rank)
        return std::unexpected(rank.error());
    rank_ = *rank;
    nshells_ = static_cast<std::uint32_t>(R_.nnodes());

    // Slots per shell, in rank order, then the block task map.
    std::vector<std::uint32_t> slots;
    bool found = false;
    for (auto r : R_.ranks()) {
        if (r == rank_) {
            shell_rank_ = static_cast<std::uint32_t>(slots.size());
            found = true;
        }
        std::uint32_t s;
        if (js_.nnodes > 0)
            s = js_.slots_per_node;
        else
            s = static_cast<std::uint32_t>(R_.cores_of(r)->count() / std::max<std::uint32_t>(js_.cores_per_slot, 1));
        slots.push_back(s);
    }
    if (!found)
        return fail(EINVAL, fmt::format("rank {} is not part of the job's allocation", rank_));
    if (js_.per_resource) {
        // `count` tasks per node, or per allocated core (nested instances:
        // one broker per node; flux run --tasks-per-node/--tasks-per-core).
        std::uint32_t total = 0;
        std::size_t i = 0;
        for (auto r : R_.ranks()) {
            std::uint32_t per =
                js_.per_resource->type == "node" ? 1 : static_cast<std::uint32_t>(R_.cores_of(r)->count());
            slots[i++] = per * js_.per_resource->count;
            total += per * js_.per_resource->count;
        }
        map_ = TaskMap::block(slots, 1, total);
    } else {
        map_ = TaskMap::block(slots, js_.tasks_per_slot, js_.ntasks);
    }

    json opts = json::parse(js_.shell_options());
    options_ = opts.is_object() ? opts : json::object();
    idstr_ = encode_jobid(id_, JobIdEncoding::f58);

    // The job's temporary directory (FLUX_JOB_TMPDIR) in our broker's
    // rundir, holding the jobspec's files (RFC 37: flux batch's script, a
    // child instance's configuration); removed when the shell exits.
    // The broker's socket is RUNDIR/local, and FLUX_URI names it: no need
    // to ask (a request per job shell) unless the URI says otherwise.
    std::string_view uri = getenv("FLUX_URI") ? getenv("FLUX_URI") : "";
    constexpr std::string_view scheme = "local://", socket = "/local";
    Result<std::string> rundir = std::string();
    if (uri.starts_with(scheme) && uri.ends_with(socket))
        rundir = std::string(uri.substr(scheme.size(), uri.size() - scheme.size() - socket.size()));
    else
        rundir = h_.getattr("rundir");
    if (!rundir)
        return fail(rundir.error().errnum, "cannot get the broker's rundir: " + rundir.error().message());
    tmpdir_ = fmt::format("{}/jobtmp-{}-{}", *rundir, shell_rank_, idstr_);
    if (mkdir(tmpdir_.c_str(), 0700) < 0 && errno != EEXIST) {
        int e = errno;
        std::string dir = tmpdir_;
        tmpdir_.clear();
        return fail(e, fmt::format("{}: {}", dir, strerror(e)));
    }
    const json& sys = (*js_.doc)["attributes"]["system"];
    if (auto files = sys.find("files"); files != sys.end())
        if (auto r = job::unpack_files(*files, tmpdir_); !r)
            return r;
    for (const auto& a : js_.command)
        argv_.push_back(expand(a, idstr_, js_.job_name, tmpdir_));

    // Binding: the cores of this rank (cpu-affinity=off disables it).
    std::string aff = options_.contains("cpu-affinity") && options_["cpu-affinity"].is_string()
                          ? options_["cpu-affinity"].get<std::string>()
                          : "on";
    if (aff != "off") {
        const auto& map = core_cpus();
        cpus_ = cpus_of(*R_.cores_of(rank_), map);
    }
    if (auto g = R_.gpus_of(rank_); g && !g->empty()) {
        for (auto id : *g)
            gpus_ += (gpus_.empty() ? "" : ",") + std::to_string(id);
    }

    // Output to files?
    std::string outpath = file_for("stdout"), errpath = file_for("stderr");
    if (errpath.empty())
        errpath = outpath;
    for (int s = 0; s < 2; s++) {
        const std::string& p = s == 0 ? outpath : errpath;
        if (p.empty())
            continue;
        std::string path = expand(p, idstr_, js_.job_name);
        if (!path.starts_with("/") && !js_.cwd.empty())
            path = js_.cwd + "/" + path;  // relative to the job, not to us
        if (s == 1 && errpath == outpath && file_fd_[0] >= 0) {
            file_fd_[1] = file_fd_[0];
            continue;
        }
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return fail(errno, fmt::format("{}: {}", path, strerror(errno)));
        file_fd_[s] = fd;
        if (shell_rank_ == 0)
            emit("redirect", json{{"stream", s == 0 ? "stdout" : "stderr"},
                                  {"rank", fmt::format("0-{}", js_.ntasks ? js_.ntasks - 1 : 0)},
                                  {"path", path}});
    }
    for (int s = 0; s < 2; s++) {
        auto out = options_.find("output");
        if (out != options_.end() && out->is_object()) {
            auto st = out->find(s == 0 ? "stdout" : "stderr");
            if (st != out->end() && st->is_object())
                label_[s] = st->value("label", false);
        }
    }
    if (auto in = options_.find("input"); in != options_.end() && in->is_object()) {
        auto st = in->find("stdin");
        if (st != in->end() && st->is_object()) {
            stdin_type_ = st->value("type", "");
            if (stdin_type_ != "file" && stdin_type_ != "log")
                return fail(EINVAL, fmt::format("input.stdin: unknown type \"{}\"", stdin_type_));
            stdin_path_ = st->value("path", "");
            if (stdin_type_ == "file" && stdin_path_.empty())
                return fail(EINVAL, "input.stdin: a file needs a path");
            if (!stdin_path_.starts_with("/") && !js_.cwd.empty())
                stdin_path_ = js_.cwd + "/" + stdin_path_;
            auto ranks = parse_ranks(st->value("ranks", "all"));
            if (!ranks)
                return fail(EINVAL, "input.stdin: ranks: " + ranks.error().message());
            stdin_ranks_ = std::move(*ranks);
        }
    }
    if (auto pty = options_.find("pty"); pty != options_.end() && pty->is_object()) {
        auto ranks = parse_ranks(pty->value("ranks", "0"));
        if (!ranks)
            return fail(EINVAL, "pty: ranks: " + ranks.error().message());
        pty_ = true;
        pty_ranks_ = std::move(*ranks);
        winsize_.ws_row = static_cast<unsigned short>(pty->value("rows", 24));
        winsize_.ws_col = static_cast<unsigned short>(pty->value("cols", 80));
    }
    if (shell_rank_ == 0)
        emit("header", json{{"version", 1},
                            {"encoding", {{"stdout", "UTF-8"}, {"stderr", "UTF-8"}}},
                            {"count", {{"stdout", js_.ntasks}, {"stderr", js_.ntasks}}},
                            {"options", json::object()}});

    // The environment every task shares.
    std::map<std::string, std::string> env = js_.environment();
    if (env.empty())
        for (char** e = environ; *e; e++) {
            std::string s(*e);
            auto eq = s.find('=');
            if (eq != std::string::npos)
                env[s.substr(0, eq)] = s.substr(eq + 1);
        }
    for (auto it = env.begin(); it != env.end();)
        it = it->first.starts_with("PMI_") || it->first.starts_with("FLUX_PMI") ? env.erase(it) : std::next(it);
    if (const char* uri = getenv("FLUX_URI"))
        env["FLUX_URI"] = uri;
    env["FLUX_JOB_ID"] = idstr_;
    env["FLUX_JOB_SIZE"] = std::to_string(map_.total);
    env["FLUX_JOB_NNODES"] = std::to_string(nshells_);
    env["FLUX_JOB_NODELIST"] = R_.nodelist().encode();
    env["FLUX_JOB_TMPDIR"] = tmpdir_;
    if (!gpus_.empty()) {
        env["CUDA_VISIBLE_DEVICES"] = gpus_;
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
    }
    env["PMI_SIZE"] = std::to_string(map_.total);
    env["PMI_FD"] = "3";
    env["PMI_SPAWNED"] = "0";
    for (auto& [k, v] : env)
        env_.push_back(k + "=" + v);
    return {};
}

// Start t's command: the file actions set up its stdin/stdout/stderr and
// PMI fd; here the rest of the descriptors are closed, the directory, the
// environment and the signal state set. Returns posix_spawn's error.
int Shell::launch(Task& t, posix_spawn_file_actions_t& fa, short flags)
{
    std::vector<std::string> env = env_;
    env.push_back(fmt::format("FLUX_TASK_RANK={}", t.rank));
    env.push_back(fmt::format("FLUX_TASK_LOCAL_ID={}", t.local_id));
    env.push_back(fmt::format("PMI_RANK={}", t.rank));
    std::vector<char*> envp = c_strings(env);
    std::vector<std::string> argv_s = argv_;
    std::vector<char*> argv = c_strings(argv_s);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    if (!js_.cwd.empty())
        posix_spawn_file_actions_addchdir_np(&fa, js_.cwd.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags));
    int rc = posix_spawnp(&t.pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

Result<void> Shell::spawn(Task& t)
{
    t.pty = pty_ && (!pty_ranks_ || pty_ranks_->contains(t.rank));
    if (t.pty)
        return spawn_on_pty(t);
    int out[2], err[2], pmi[2], in[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pmi) < 0)
        return fail(errno, strerror(errno));
    bool gets_input = !stdin_type_.empty() && (!stdin_ranks_ || stdin_ranks_->contains(t.rank));
    if (gets_input && stdin_type_ == "log" && pipe2(in, O_CLOEXEC) < 0)
        return fail(errno, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in[0] >= 0)
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    else if (gets_input)
        posix_spawn_file_actions_addopen(&fa, 0, stdin_path_.c_str(), O_RDONLY, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_adddup2(&fa, pmi[1], 3);
    int rc = launch(t, fa, 0);
    close(out[1]);
    close(err[1]);
    close(pmi[1]);
    if (in[0] >= 0) {
        close(in[0]);
        fcntl(in[1], F_SETFL, O_NONBLOCK);
        t.in_fd = in[1];
    }
    t.out_fd = out[0];
    t.err_fd = err[0];
    t.pmi_fd = pmi[0];
    if (rc != 0) {
        t.pid = -1;
        return fail(rc, fmt::format("{}: {}", argv_[0], strerror(rc)));
    }
    return {};
}

// A task on a terminal of its own: a new session whose controlling tty is
// the pty's slave on stdin, stdout and stderr. We keep the master: what it
// reads is the task's stdout, forwarded input is written to it.
Result<void> Shell::spawn_on_pty(Task& t)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        int e = errno;
        if (m >= 0)
            close(m);
        return fail(e, fmt::format("pty: {}", strerror(e)));
    }
    std::string slave = ptsname(m);
    (void)ioctl(m, TIOCSWINSZ, &winsize_);
    int pmi[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pmi) < 0) {
        close(m);
        return fail(errno, strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    // After setsid, opening the slave makes it our controlling terminal.
    posix_spawn_file_actions_addopen(&fa, 0, slave.c_str(), O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, 0, 1);
    posix_spawn_file_actions_adddup2(&fa, 0, 2);
    posix_spawn_file_actions_adddup2(&fa, pmi[1], 3);
    int rc = launch(t, fa, POSIX_SPAWN_SETSID);
    close(pmi[1]);
    t.pmi_fd = pmi[0];
    t.out_fd = m;
    if (!stdin_type_.empty()) {
        t.in_fd = fcntl(m, F_DUPFD_CLOEXEC, 0);
        fcntl(t.in_fd, F_SETFL, O_NONBLOCK);
    }
    if (rc != 0) {
        t.pid = -1;
        return fail(rc, fmt::format("{}: {}", argv_[0], strerror(rc)));
    }
    return {};
}

void Shell::start_tasks()
{
    std::uint32_t n = map_.count[shell_rank_];
    tasks_.resize(n);
    if (n > 0) {
        pmi_ = std::make_unique<PmiServer>(static_cast<int>(n), fmt::format("{}", id_));
        pmi_->set_universe_size(static_cast<int>(map_.total));
        (void)pmi_->preput("PMI_process_mapping", map_.pmi_process_mapping());
        if (nshells_ > 1) {
            pmi_->set_barrier_hook([this](std::map<std::string, std::string> puts) {
                json req{{"id", id_}, {"shell_rank", shell_rank_}, {"kvs", puts}};
                Future f = h_.rpc("job-exec.pmi-exchange", req.dump());
                f.then([this](Future& fut) {
                    auto r = fut.get();
                    if (!r) {
                        log_error("PMI exchange failed: " + r.error().message());
                        return;
                    }
                    if (pmi_debug_)
                        fprintf(stderr, "pmi exchange <- %s\n", r->payload.c_str());
                    std::map<std::string, std::string> kvs;
                    json resp = json::parse(r->payload);  // outlives the loop below
                    for (auto& [k, v] : resp.at("kvs").items())
                        kvs[k] = v.get<std::string>();
                    pmi_->complete_barrier(kvs);
                    send_pmi_output();
                });
            });
        }
    }
    // Bind by binding ourselves: children inherit the mask.
    cpu_set_t saved;
    bool bound = false;
    if (!cpus_.empty() && sched_getaffinity(0, sizeof(saved), &saved) == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int c : cpus_)
            if (c < CPU_SETSIZE)
                CPU_SET(c, &set);
        bound = sched_setaffinity(0, sizeof(set), &set) == 0;
    }
    if (!js_.cwd.empty() && access(js_.cwd.c_str(), X_OK) != 0) {
        log_error(fmt::format("Could not change dir to {}: {}. Going to /tmp instead", js_.cwd, strerror(errno)));
        js_.cwd = "/tmp";
    }
    for (std::uint32_t i = 0; i < n; i++) {
        Task& t = tasks_[i];
        t.rank = map_.first[shell_rank_] + i;
        t.local_id = i;
        auto r = spawn(t);
        if (!r) {
            std::string note = fmt::format("task {}: start failed: {}", t.rank, r.error().message());
            log_error(note);
            // As flux-core's shell: the job cannot run as asked, so it ends
            // with a fatal exec exception (the other tasks are stopped).
            if (!raised_) {
                raised_ = true;
                (void)h_.send(
                    Message::request("job-manager.raise",
                                     json{{"id", id_}, {"type", "exec"}, {"severity", 0}, {"note", note}}.dump(
                                         -1, ' ', false, json::error_handler_t::replace),
                                     NODEID_ANY, msgflag::noresponse));
            }
            t.exited = true;
            t.status = (r.error().errnum == ENOENT ? 127 : 126) << 8;
            exited_++;
        } else {
            t.child_w = h_.reactor().child(t.pid, [this, i](pid_t, int status) { on_exit(tasks_[i], status); });
        }
        open_streams_ += t.pty ? 1 : 2;
        t.out_w = h_.reactor().fd(t.out_fd, EPOLLIN, [this, i](uint32_t) { on_output(tasks_[i], false); });
        if (!t.pty)
            t.err_w = h_.reactor().fd(t.err_fd, EPOLLIN, [this, i](uint32_t) { on_output(tasks_[i], true); });
        t.pmi_w = h_.reactor().fd(t.pmi_fd, EPOLLIN, [this, i](uint32_t) { on_pmi(i); });
    }
    if (bound)
        (void)sched_setaffinity(0, sizeof(saved), &saved);
}

void Shell::on_output(Task& t, bool is_stderr)
{
    int& fd = is_stderr ? t.err_fd : t.out_fd;
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    const char* stream = is_stderr ? "stderr" : "stdout";
    int s = is_stderr ? 1 : 0;
    if (n <= 0) {
        (is_stderr ? t.err_w : t.out_w).reset();
        close(fd);
        fd = -1;
        open_streams_--;
        if (file_fd_[s] < 0)
            emit("data", json{{"stream", stream}, {"rank", std::to_string(t.rank)}, {"eof", true}});
        check_done();
        return;
    }
    std::string_view data(buf, static_cast<std::size_t>(n));
    if (file_fd_[s] >= 0) {
        std::string text(data);
        if (label_[s]) {
            std::string labeled;
            std::size_t pos = 0;
            while (pos < text.size()) {
                std::size_t nl = text.find('\n', pos);
                std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
                labeled += fmt::format("{}: ", t.rank) + text.substr(pos, end - pos);
                pos = end;
            }
            text = std::move(labeled);
        }
        (void)!write(file_fd_[s], text.data(), text.size());
        return;
    }
    json ctx{{"stream", stream}, {"rank", std::to_string(t.rank)}};
    job::set_data(ctx, data);
    emit("data", std::move(ctx));
}

// Follow the job's input log (RFC 24 guest.input): data entries for stdin go
// to the tasks they name; eof closes their stdin once written.
void Shell::watch_input()
{
    input_watch_ = h_.rpc("job-info.eventlog-watch", json{{"id", id_}, {"path", "guest.input"}}.dump(), NODEID_ANY,
                          msgflag::streaming);
    input_watch_.then([this](Future& f) {
        auto r = f.get();
        f.reset();
        if (!r) {
            if (r.error().errnum != ENODATA)
                log_error("stdin: " + r.error().message());
            return;
        }
        try {
            on_input(json::parse(r->payload).at("event"));
        } catch (const std::exception& ex) {
            log_error(fmt::format("stdin: malformed input entry: {}", ex.what()));
        }
    });
}

void Shell::on_input(const json& entry)
{
    if (entry.value("name", "") != "data")
        return;
    const json& ctx = entry.at("context");
    if (ctx.value("stream", "stdin") != "stdin")
        return;
    std::string data = job::data_of(ctx);
    auto to = parse_ranks(ctx.value("rank", "all"));
    if (!to) {
        log_error("stdin: " + to.error().message());
        return;
    }
    bool eof = ctx.value("eof", false);
    for (std::size_t i = 0; i < tasks_.size(); i++) {
        Task& t = tasks_[i];
        if (t.in_fd < 0 || (*to && !(*to)->contains(t.rank)))
            continue;
        t.in_buf += data;
        t.in_eof = t.in_eof || eof;
        pump_input(i);
    }
}

// Write what a task's stdin can take now; wait for room for the rest.
void Shell::pump_input(std::size_t idx)
{
    Task& t = tasks_[idx];
    while (!t.in_buf.empty()) {
        ssize_t n = write(t.in_fd, t.in_buf.data(), t.in_buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!t.in_w)
                t.in_w = h_.reactor().fd(t.in_fd, EPOLLOUT, [this, idx](uint32_t) { pump_input(idx); });
            return;
        }
        if (n < 0) {  // the task closed its stdin: drop what is left
            t.in_buf.clear();
            t.in_eof = true;
            break;
        }
        t.in_buf.erase(0, static_cast<std::size_t>(n));
    }
    t.in_w.reset();
    if (t.in_eof) {
        if (t.pty)  // a terminal has no end: end-of-file is its EOF character
            (void)!write(t.in_fd, "\x04", 1);
        close(t.in_fd);
        t.in_fd = -1;
    }
}

void Shell::on_pmi(std::size_t idx)
{
    Task& t = tasks_[idx];
    char buf[4096];
    ssize_t n = read(t.pmi_fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        t.pmi_w.reset();
        return;
    }
    if (pmi_debug_)
        fprintf(stderr, "pmi[%u] <- %.*s", t.rank, static_cast<int>(n), buf);
    if (auto r = pmi_->feed(static_cast<int>(idx), std::string_view(buf, static_cast<std::size_t>(n))); !r) {
        log_error(fmt::format("task {}: PMI: {}", t.rank, r.error().message()));
        t.pmi_w.reset();
    }
    send_pmi_output();
    if (pmi_->aborted()) {
        const auto& a = *pmi_->aborted();
        log_error(fmt::format("task {}: PMI_Abort: {}", map_.first[shell_rank_] + static_cast<std::uint32_t>(a.rank),
                              a.message));
        exit_code_ = std::max(exit_code_, a.exit_code);
        for (auto& task : tasks_)
            if (!task.exited && task.pid > 0)
                ::kill(task.pid, SIGKILL);
    }
}

void Shell::send_pmi_output()
{
    for (auto& [to, bytes] : pmi_->take_output()) {
        if (pmi_debug_)
            fprintf(stderr, "pmi[%u] -> %s", tasks_[static_cast<std::size_t>(to)].rank, bytes.c_str());
        (void)!write(tasks_[static_cast<std::size_t>(to)].pmi_fd, bytes.data(), bytes.size());
    }
}

void Shell::on_exit(Task& t, int status)
{
    t.exited = true;
    t.status = status;
    t.child_w.reset();
    exited_++;
    check_done();
}

void Shell::check_done()
{
    if (done_ || exited_ < tasks_.size() || open_streams_ > 0)
        return;
    if (!pending_.empty())
        flush_output(true);
    // Answers to earlier appends only report errors; with a connection
    // the broker made they are not worth the wait (see flush_output).
    if (inflight_ > 0 && !conn_by_broker_)
        return;
    done_ = true;
    for (const auto& t : tasks_)
        exit_code_ = std::max(exit_code_, job::exit_code(t.status));
    // Tell job-exec now (after our output, on the same connection): the
    // job can finish without waiting for this process to be torn down,
    // reaped by its parent and reported through the broker. Not when init
    // failed: there are no tasks, and our exit status (1) says so.
    if (init_ok_)
        (void)h_.send(
            Message::request("job-exec.shell-exit",
                             fmt::format(R"({{"id":{},"rank":{},"status":{}}})", id_, rank_, W_EXITCODE(exit_code_, 0)),
                             NODEID_ANY, msgflag::noresponse));
    h_.reactor().stop();
}

int Shell::run()
{
    // Signals sent to our process group reach the tasks directly; the shell
    // itself outlives them so it can report their status.
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGUSR1, SIGUSR2, SIGPIPE})
        sigw_.push_back(h_.reactor().signal(sig, [](int) {}));
    // Our broker went away (its instance died): nobody is left to report
    // to or to stop the tasks, so stop them ourselves. A nested instance's
    // brokers take SIGTERM as "shut down", then SIGKILL if they linger.
    h_.on_disconnect([this](const Error&) {
        if (orphan_kill_)
            return;
        for (const auto& t : tasks_)
            if (!t.exited && t.pid > 0)
                ::kill(t.pid, SIGTERM);
        orphan_kill_ = h_.reactor().timer(10, 0, [] { ::kill(-getpgrp(), SIGKILL); });
    });
    auto cleanup = [this] {
        if (!tmpdir_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(tmpdir_, ec);
        }
    };
    if (auto r = init(); !r) {
        fprintf(stderr, "flux-shell: job %ju: %s\n", static_cast<uintmax_t>(id_), r.error().message().c_str());
        log_error(r.error().message());
        flush_output(true);
        if (inflight_ > 0)
            h_.reactor().run();
        cleanup();
        return 1;
    }
    init_ok_ = true;
    prepare_ = h_.reactor().prepare([this] { flush_output(); });
    start_tasks();
    if (stdin_type_ == "log")
        watch_input();
    check_done();
    if (!done_)
        h_.reactor().run();
    for (int fd : {file_fd_[0], file_fd_[1]})
        if (fd >= 0 && (fd != file_fd_[1] || file_fd_[1] != file_fd_[0]))
            close(fd);
    cleanup();
    return exit_code_;
}

}  // namespace

}  // namespace flux::shell

namespace {

int shell_main(int argc, char** argv, const flux::shell::Launch* launch)
{
    using namespace flux;
    // f58 ids with ƒ under UTF-8; the only category used. A shell from the
    // zygote has it set already.
    if (!launch)
        setlocale(LC_CTYPE, "");
    // Block job-control signals at once: a cancel may arrive while we start
    // (they reach the tasks through the process group; see Shell::run).
    sigset_t block;
    sigemptyset(&block);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGUSR1, SIGUSR2, SIGPIPE})
        sigaddset(&block, sig);
    sigprocmask(SIG_BLOCK, &block, nullptr);
    // flux-shell JOBID [--rank=N]: job-exec tells the shell its broker's
    // rank, saving a request per shell (after the id, so that ps and
    // pgrep -f still show `flux-shell JOBID`).
    std::optional<std::uint32_t> rank;
    if (argc == 3 && std::strncmp(argv[2], "--rank=", 7) == 0) {
        std::string_view v(argv[2] + 7);
        std::uint32_t r = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), r);
        if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
            fprintf(stderr, "flux-shell: %s: invalid rank\n", argv[2]);
            return 1;
        }
        rank = r;
        argc--;
    }
    if (argc != 2) {
        fprintf(stderr, "Usage: flux-shell JOBID [--rank=N]\n");
        return 1;
    }
    auto id = parse_jobid(argv[1]);
    if (!id) {
        fprintf(stderr, "flux-shell: %s: invalid job id\n", argv[1]);
        return 1;
    }
    // From the zygote: the broker made our connection. Otherwise connect.
    Result<std::unique_ptr<Handle>> h =
        launch && launch->conn_fd >= 0 ? std::make_unique<Handle>(connector_from_fd(launch->conn_fd)) : Handle::open();
    if (!h) {
        fprintf(stderr, "flux-shell: cannot connect to the broker: %s\n", h.error().message().c_str());
        return 1;
    }
    (*h)->set_log_name("flux-shell");
    try {
        shell::Shell sh(**h, *id, rank, launch ? launch->data : nullptr, launch && launch->conn_fd >= 0);
        return sh.run();
    } catch (const std::exception& ex) {
        fprintf(stderr, "flux-shell: job %s: %s\n", argv[1], ex.what());
        return 1;
    }
}

}  // namespace

int main(int argc, char** argv)
{
    // flux-shell --zygote FD [PADDING]: the broker's warm shell launcher.
    if (argc >= 3 && std::strcmp(argv[1], "--zygote") == 0)
        return flux::shell::zygote_main(argc, argv, std::atoi(argv[2]), shell_main);
    return shell_main(argc, argv, nullptr);
}
