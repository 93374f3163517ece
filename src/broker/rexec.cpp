// rexec: spawn processes, stream stdout/stderr, forward stdin and signals.
#include "rexec.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "broker.hpp"
#include "libflux/cstrings.hpp"
#include "local_server.hpp"

extern char** environ;

namespace flux::broker {

using json = nlohmann::json;

struct Rexec::Proc {
    int pid = -1;
    Message req;  // the streaming request: responses go back along its route
    std::string owner_hop;
    int in_fd = -1;
    std::string in_buf;   // stdin not yet taken by the process
    bool in_eof = false;  // close stdin once in_buf is written
    int out_fd = -1, err_fd = -1;
    WatcherPtr out_w, err_w, child_w, in_w;
    bool exited = false;
    int status = 0;
    bool kill_group = false;  // SIGKILL what is left of its process group when it exits
    bool report_eof = true;   // send "eof" responses
    bool via_zygote = false;  // the zygote's child: it reports the exit
    std::uint64_t conn = 0;   // its connection to us, which we made (0: none)
    std::string name;         // argv[0], for errors
};

struct Rexec::Zygote {
    std::string path;  // the flux-shell it runs
    pid_t pid = -1;
    int sock = -1;
    WatcherPtr sock_w, child_w;
    std::uint64_t next_id = 1;
    std::map<std::uint64_t, std::unique_ptr<Proc>> pending;  // sent, waiting for a pid
    ~Zygote()
    {
        if (sock >= 0)
            close(sock);
    }
};

namespace {

std::string dump(const json& j)
{
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A process spawned here starts with an empty signal mask, default
// dispositions, and leads a new process group.
void init_spawn_attr(posix_spawnattr_t& attr)
{
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t dfl;
    sigfillset(&dfl);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}

}  // namespace

Rexec::Rexec(Broker& b) : broker_(b) {}

Rexec::~Rexec()
{
    kill_all();
}

Rexec::Proc* Rexec::find(int pid)
{
    auto it = procs_.find(pid);
    return it == procs_.end() ? nullptr : it->second.get();
}

void Rexec::exec(const Message& req)
{
    if (!req.has_flag(msgflag::streaming)) {
        broker_.respond_error(req, EPROTO, "rexec.exec requires a streaming request");
        return;
    }
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::string cwd;
    bool want_stdin = false, kill_group = false, use_zygote = false, report_eof = true;
    json data;
    try {
        auto j = json::parse(req.payload);
        argv = j.at("cmd").get<std::vector<std::string>>();
        if (j.contains("env") && j["env"].is_object()) {
            for (auto& [k, v] : j["env"].items())
                env.push_back(k + "=" + v.get<std::string>());
        }
        cwd = j.value("cwd", "");
        want_stdin = j.value("stdin", false);
        kill_group = j.value("kill_group", false);
        report_eof = j.value("eof", true);
        use_zygote = j.value("zygote", false);
        if (auto d = j.find("data"); d != j.end())
            data = std::move(*d);
    } catch (const std::exception& e) {
        broker_.respond_error(req, EPROTO, fmt::format("rexec.exec: malformed request: {}", e.what()));
        return;
    }
    if (argv.empty()) {
        broker_.respond_error(req, EINVAL, "rexec.exec: empty command");
        return;
    }
    if (!cwd.empty()) {
        struct stat st;
        if (stat(cwd.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
            broker_.respond_error(
                req, EINVAL,
                fmt::format("cannot use {} as working directory: {}", cwd, strerror(errno ? errno : ENOTDIR)));
            return;
        }
    }
    int outp[2], errp[2], inp[2] = {-1, -1};
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || (want_stdin && pipe2(inp, O_CLOEXEC) < 0)) {
        broker_.respond_error(req, errno, fmt::format("rexec.exec: pipe: {}", strerror(errno)));
        return;
    }
    auto p = std::make_unique<Proc>();
    p->req = req;
    p->owner_hop = req.route.empty() ? "" : req.route.back();
    p->out_fd = outp[0];
    p->err_fd = errp[0];
    p->in_fd = want_stdin ? inp[1] : -1;
    p->kill_group = kill_group;
    p->report_eof = report_eof;
    p->name = argv[0];
    if (use_zygote) {
        // The shell also gets its connection to us, made here: one end is
        // our client, the other its fd (no connect, no greeting).
        int devnull = want_stdin ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
        int conn[2] = {-1, -1};
        bool sent = false;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, conn) == 0) {
            int fds[4] = {want_stdin ? inp[0] : devnull, outp[1], errp[1], conn[1]};
            p->conn = broker_.local_server().adopt(conn[0]);
            std::uint64_t cid = p->conn;
            // Without an environment of its own the shell keeps the
            // zygote's, which is the broker's child_environment(): no env.
            sent = fds[0] >= 0 &&
                   zygote_spawn(p, argv, env.empty() ? env : broker_.child_environment(env), cwd, data, fds);
            close(conn[1]);
            if (!sent) {
                broker_.local_server().drop(cid);
                p->conn = 0;
            }
        }
        if (devnull >= 0)
            close(devnull);
        if (sent) {
            close(outp[1]);
            close(errp[1]);
            if (want_stdin)
                close(inp[0]);
            return;  // started() when the zygote says which pid it got
        }
    }
    env = broker_.child_environment(std::move(env));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (want_stdin)
        posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    if (!cwd.empty())
        posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    posix_spawnattr_t attr;
    init_spawn_attr(attr);
    std::vector<char*> av = c_strings(argv), ev = c_strings(env);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, av[0], &fa, &attr, av.data(), ev.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(outp[1]);
    close(errp[1]);
    if (want_stdin)
        close(inp[0]);
    if (rc != 0) {
        close(outp[0]);
        close(errp[0]);
        if (want_stdin)
            close(inp[1]);
        broker_.respond_error(req, rc, fmt::format("{}: {}", argv[0], strerror(rc)));
        return;
    }
    p->pid = pid;
    started(std::move(p));
}

// The process exists: stream its output, watch for its end.
void Rexec::started(std::unique_ptr<Proc> p)
{
    if (p->in_fd >= 0)
        fcntl(p->in_fd, F_SETFL, O_NONBLOCK);  // a process that never reads must not stall the broker
    Proc* raw = p.get();
    auto reader = [this, raw](int& fd, WatcherPtr& w, const char* stream) {
        fcntl(fd, F_SETFL, O_NONBLOCK);
        w = broker_.reactor().fd(fd, EPOLLIN, [this, raw, &fd, &w, stream](uint32_t) {
            char buf[65536];
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n > 0) {
                broker_.respond(raw->req, dump({{"type", "output"},
                                                {"pid", raw->pid},
                                                {"rank", broker_.rank()},
                                                {"stream", stream},
                                                {"data", std::string(buf, static_cast<size_t>(n))}}));
                return;
            }
            if (raw->report_eof)
                broker_.respond(
                    raw->req, dump({{"type", "eof"}, {"pid", raw->pid}, {"rank", broker_.rank()}, {"stream", stream}}));
            w.reset();
            close(fd);
            fd = -1;
            finish(*raw);
        });
    };
    reader(p->out_fd, p->out_w, "stdout");
    reader(p->err_fd, p->err_w, "stderr");
    int pid = p->pid;
    if (!p->via_zygote) {
        p->child_w = broker_.reactor().child(pid, [this, raw](pid_t, int status) { exited(*raw, status); });
    }
    broker_.respond(p->req, dump({{"type", "started"}, {"pid", pid}, {"rank", broker_.rank()}}));
    procs_.emplace(pid, std::move(p));
}

bool Rexec::zygote_start(const std::string& path)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawnattr_t attr;
    init_spawn_attr(attr);  // its own process group: a ^C meant for the broker's is not for it
    // The padding is room for each shell's command line (`flux-shell JOBID`).
    std::string p = path, flag = "--zygote", fd = "3", pad(48, ' ');
    char* av[] = {p.data(), flag.data(), fd.data(), pad.data(), nullptr};
    std::vector<std::string> env = broker_.child_environment();
    std::vector<char*> ev = c_strings(env);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, path.c_str(), &fa, &attr, av, ev.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return false;
    }
    zygote_ = std::make_unique<Zygote>();
    zygote_->path = path;
    zygote_->pid = pid;
    zygote_->sock = sv[0];
    zygote_->sock_w = broker_.reactor().fd(sv[0], EPOLLIN, [this](uint32_t) { zygote_input(); });
    zygote_->child_w = broker_.reactor().child(pid, [this](pid_t, int) {
        if (zygote_)
            zygote_->pid = -1;  // reaped; the socket's end of file does the rest
    });
    return true;
}

bool Rexec::zygote_spawn(std::unique_ptr<Proc>& p, const std::vector<std::string>& argv,
                         const std::vector<std::string>& env, const std::string& cwd, const json& data,
                         const int fds[4])
{
    if (!zygote_ && !zygote_start(argv[0]))
        return false;
    if (zygote_->path != argv[0])
        return false;  // one zygote, for the shell job-exec runs
    std::uint64_t id = zygote_->next_id++;
    json req{{"id", id}, {"argv", argv}, {"cwd", cwd}};
    if (!env.empty())
        req["env"] = env;
    if (!data.is_null())
        req["data"] = data;
    std::string text = dump(req);
    struct iovec iov = {text.data(), text.size()};
    alignas(struct cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(4 * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, 4 * sizeof(int));
    ssize_t n;
    do {
        // Never block: a zygote stuck sending us exit reports while we wait
        // here would be a deadlock. A full socket means spawning instead.
        n = sendmsg(zygote_->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(text.size()))
        return false;  // full (EAGAIN), too large (EMSGSIZE), or the zygote is gone: spawn instead
    p->via_zygote = true;
    zygote_->pending.emplace(id, std::move(p));
    return true;
}

void Rexec::zygote_input()
{
    char buf[4096];
    ssize_t n = recv(zygote_->sock, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        zygote_lost();
        return;
    }
    json j = json::parse(std::string_view(buf, static_cast<size_t>(n)), nullptr, false);
    if (!j.is_object())
        return;
    if (j.contains("id")) {  // the answer to a request, in order
        auto it = zygote_->pending.find(j.value("id", std::uint64_t{0}));
        if (it == zygote_->pending.end())
            it = zygote_->pending.begin();
        if (it == zygote_->pending.end())
            return;
        std::unique_ptr<Proc> p = std::move(it->second);
        zygote_->pending.erase(it);
        if (j.contains("pid")) {
            p->pid = j["pid"].get<int>();
            started(std::move(p));
            return;
        }
        int err = j.value("errnum", EIO);
        never_started(*p, err, fmt::format("{}: {}", p->name, strerror(err)));
        return;
    }
    // A shell it forked has exited.
    Proc* p = find(j.value("pid", -1));
    if (p && p->via_zygote && !p->exited)
        exited(*p, j.value("status", 0));
}

// The process has ended with wait status `status`.
void Rexec::exited(Proc& p, int status)
{
    p.exited = true;
    p.status = status;
    // What it sent us before it ended goes on before its end is reported:
    // a job shell's last output entries reach the job manager before
    // job-exec's finish does, so the shell need not wait for an answer.
    if (p.conn)
        broker_.local_server().read_all(p.conn);
    if (p.kill_group)
        ::kill(-p.pid, SIGKILL);  // e.g. the tasks of a job shell that died
    finish(p);
}

// A request the zygote never turned into a process: fail it, drop its pipes.
void Rexec::never_started(Proc& p, int errnum, const std::string& text)
{
    broker_.respond_error(p.req, errnum, text);
    if (p.conn)
        broker_.local_server().drop(p.conn);
    for (int fd : {p.out_fd, p.err_fd, p.in_fd})
        if (fd >= 0)
            close(fd);
}

// The zygote died (or closed its socket): its shells can no longer be
// followed, so they are killed and reported as such; requests it had not
// answered fail. The next request starts a new zygote.
void Rexec::zygote_lost()
{
    auto z = std::move(zygote_);
    broker_.log(3, fmt::format("rexec: the job shell zygote ({}) went away; its shells are killed", z->path));
    for (auto& [id, p] : z->pending)
        never_started(*p, EIO, "the job shell launcher (flux-shell --zygote) died");
    std::vector<Proc*> orphans;
    for (auto& [pid, p] : procs_)
        if (p->via_zygote && !p->exited)
            orphans.push_back(p.get());
    for (Proc* p : orphans) {
        ::kill(-p->pid, SIGKILL);
        exited(*p, SIGKILL);  // as a wait status: killed by SIGKILL
    }
    if (z->pid > 0 && waitpid(z->pid, nullptr, WNOHANG) == 0) {
        ::kill(z->pid, SIGKILL);  // it closed its socket but lives on: end it
        waitpid(z->pid, nullptr, 0);
    }
}

void Rexec::finish(Proc& p)
{
    if (!p.exited || p.out_fd >= 0 || p.err_fd >= 0)
        return;
    broker_.respond(p.req,
                    dump({{"type", "finished"}, {"pid", p.pid}, {"rank", broker_.rank()}, {"status", p.status}}));
    broker_.respond_error(p.req, ENODATA);
    p.in_w.reset();
    if (p.in_fd >= 0)
        close(p.in_fd);
    p.in_fd = -1;
    int pid = p.pid;
    auto it = procs_.find(pid);
    if (it == procs_.end())
        return;
    auto doomed = std::shared_ptr<Proc>(it->second.release());
    procs_.erase(it);
    broker_.reactor().defer([doomed] {});
}

void Rexec::kill(const Message& req)
{
    int pid = 0, sig = SIGTERM;
    try {
        auto j = json::parse(req.payload);
        pid = j.at("pid").get<int>();
        sig = j.value("signum", SIGTERM);
    } catch (const std::exception& e) {
        broker_.respond_error(req, EPROTO, fmt::format("rexec.kill: malformed request: {}", e.what()));
        return;
    }
    Proc* p = find(pid);
    if (!p || p->exited) {
        broker_.respond_error(req, ESRCH, fmt::format("no process {} started by rexec", pid));
        return;
    }
    if (::kill(-pid, sig) < 0 && ::kill(pid, sig) < 0) {
        broker_.respond_error(req, errno, fmt::format("kill {}: {}", pid, strerror(errno)));
        return;
    }
    broker_.respond(req, "{}");
}

void Rexec::write(const Message& req)
{
    int pid = 0;
    std::string data;
    bool eof = false;
    try {
        auto j = json::parse(req.payload);
        pid = j.at("pid").get<int>();
        data = j.value("data", "");
        eof = j.value("eof", false);
    } catch (const std::exception& e) {
        broker_.respond_error(req, EPROTO, fmt::format("rexec.write: malformed request: {}", e.what()));
        return;
    }
    Proc* p = find(pid);
    if (!p || p->in_fd < 0 || p->in_eof) {
        broker_.respond_error(req, ESRCH, fmt::format("process {} has no open stdin", pid));
        return;
    }
    p->in_buf += data;
    p->in_eof = eof;
    flush_stdin(*p);
    broker_.respond(req, "{}");
}

void Rexec::flush_stdin(Proc& p)
{
    while (!p.in_buf.empty()) {
        ssize_t n = ::write(p.in_fd, p.in_buf.data(), p.in_buf.size());
        if (n > 0) {
            p.in_buf.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!p.in_w) {
                Proc* raw = &p;
                p.in_w = broker_.reactor().fd(p.in_fd, EPOLLOUT, [this, raw](uint32_t) { flush_stdin(*raw); });
            }
            return;
        }
        p.in_buf.clear();  // the reader is gone (EPIPE): drop what is left
        p.in_eof = true;
    }
    p.in_w.reset();
    if (p.in_eof && p.in_fd >= 0) {
        close(p.in_fd);
        p.in_fd = -1;
    }
}

void Rexec::list(const Message& req)
{
    json a = json::array();
    for (const auto& [pid, p] : procs_) {
        json j;
        j["pid"] = pid;
        j["cmd"] = json::parse(p->req.payload).value("cmd", json::array());
        a.push_back(j);
    }
    broker_.respond(req, json{{"procs", a}, {"rank", broker_.rank()}}.dump());
}

void Rexec::disconnect(const Message& req)
{
    for (auto& [pid, p] : procs_) {
        if (!p->exited && p->req.route == req.route) {
            ::kill(-pid, SIGKILL);
            p->req.route.clear();  // nobody to answer
        }
    }
}

void Rexec::peer_gone(const std::string& id)
{
    for (auto& [pid, p] : procs_) {
        if (p->owner_hop == id && !p->exited) {
            ::kill(-pid, SIGKILL);
            p->req.route.clear();  // nobody to answer
        }
    }
}

void Rexec::kill_all()
{
    for (auto& [pid, p] : procs_) {
        if (!p->exited)
            ::kill(-pid, SIGKILL);
    }
    if (zygote_) {
        pid_t zpid = zygote_->pid;
        zygote_.reset();  // closes its socket: it exits
        if (zpid > 0)
            waitpid(zpid, nullptr, 0);
    }
    for (auto& [pid, p] : procs_) {
        if (!p->exited && !p->via_zygote)
            waitpid(pid, nullptr, 0);
        p->out_w.reset();
        p->err_w.reset();
        p->child_w.reset();
        p->in_w.reset();
        if (p->out_fd >= 0)
            close(p->out_fd);
        if (p->err_fd >= 0)
            close(p->err_fd);
        if (p->in_fd >= 0)
            close(p->in_fd);
    }
    procs_.clear();
}

}  // namespace flux::broker
