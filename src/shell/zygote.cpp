// flux-shell --zygote FD: a warm shell process that forks one job shell per
// request, so a job pays for a fork instead of an exec (the dynamic loader,
// and on this kind of VM a trapped CPUID per process: about 1 ms a job).
//
// The broker's rexec service starts it with a SOCK_SEQPACKET socket on FD.
// Each request is one packet: JSON {"id", "argv", "env"?, "cwd", "data"?}
// with four descriptors attached (SCM_RIGHTS): the shell's stdin, stdout
// and stderr, and its connection to the broker (a socketpair end the
// broker already serves), which the shell uses instead of connecting; the
// optional "data" reaches the shell in-process (job-exec's jobspec and R,
// so the shell need not ask for them). The zygote answers {"id", "pid"} (or {"id", "errnum"}), and
// {"pid", "status"} (a wait status) when that shell exits: the shells are
// the zygote's children, so it reaps them. End of file on the socket (the
// broker went away) ends the zygote; its shells carry on to their end.
// The zygote is single-threaded and opens nothing but the socket, so a
// forked child starts from the state of a fresh process.
#include "zygote.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layout.hpp"
#include "libflux/cstrings.hpp"

extern char** environ;

namespace flux::shell {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_packet = 1 << 20;

bool send_json(int sock, const json& j)
{
    std::string s = j.dump();
    return send(sock, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// The zygote's own command line (its argv strings are contiguous in
// memory), rewritten in each child to the shell's, so that ps and pgrep -f
// show `flux-shell JOBID` as for a shell started by exec. The broker pads
// the zygote's command line to leave room.
struct Cmdline {
    char* start = nullptr;
    std::size_t room = 0;
} cmdline;

void set_cmdline(const std::vector<std::string>& args)
{
    if (!cmdline.start)
        return;
    std::string joined;
    for (const auto& a : args)
        joined.append(a).push_back('\0');
    std::size_t n = std::min(joined.size(), cmdline.room);
    std::memset(cmdline.start, 0, cmdline.room);
    std::memcpy(cmdline.start, joined.data(), n);
    if (n > 0)
        cmdline.start[n - 1] = '\0';
}

// The forked child: become the job shell described by `req`.
[[noreturn]] void become_shell(const json& req, const int fds[4], ShellMain shell_main)
{
    setpgid(0, 0);
    for (int i = 0; i < 3; i++) {
        if (fds[i] != i)
            dup2(fds[i], i);
    }
    for (int i = 0; i < 3; i++) {
        if (fds[i] > 2)
            close(fds[i]);
    }
    static std::vector<std::string> args, envs;  // outlive the call: environ points into envs
    args = req.at("argv").get<std::vector<std::string>>();
    set_cmdline(args);
    static std::vector<char*> argv, envp;
    argv = c_strings(args);
    // No "env": the shell keeps ours (the broker gave us the environment it
    // would give the shell). Otherwise that one, and its locale.
    if (auto e = req.find("env"); e != req.end()) {
        envs = e->get<std::vector<std::string>>();
        envp = c_strings(envs);
        environ = envp.data();
        setlocale(LC_CTYPE, "");
    }
    std::string cwd = req.value("cwd", "");
    if (!cwd.empty() && chdir(cwd.c_str()) < 0) {
        fprintf(stderr, "flux-shell: cannot use %s as working directory: %s\n", cwd.c_str(), strerror(errno));
        _exit(1);
    }
    // As after posix_spawn with a cleared mask. Dispositions are already
    // the defaults: the broker spawns the zygote with them, and the zygote
    // installs no handler (SIGCHLD comes through a signalfd).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    Launch launch;
    launch.conn_fd = fds[3];
    if (auto d = req.find("data"); d != req.end())
        launch.data = &*d;
    std::exit(shell_main(static_cast<int>(args.size()), argv.data(), &launch));
}

// One request: fork a shell and say which pid it got.
void spawn(int sock, int sigfd, const char* buf, std::size_t len, const int fds[4], ShellMain shell_main)
{
    json req = json::parse(std::string_view(buf, len), nullptr, false);
    std::uint64_t id = req.is_object() ? req.value("id", std::uint64_t{0}) : 0;
    if (!req.is_object() || !req.contains("argv") || !req["argv"].is_array() || req["argv"].empty()) {
        (void)send_json(sock, {{"id", id}, {"errnum", EPROTO}});
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(sock);
        close(sigfd);
        try {
            become_shell(req, fds, shell_main);
        } catch (const std::exception& ex) {
            fprintf(stderr, "flux-shell: bad request from the broker: %s\n", ex.what());
            _exit(1);
        }
    }
    if (pid < 0) {
        (void)send_json(sock, {{"id", id}, {"errnum", errno}});
        return;
    }
    // The child does this too; whichever runs first, the process group
    // exists before the broker can signal it.
    (void)setpgid(pid, pid);
    (void)send_json(sock, {{"id", id}, {"pid", pid}});
}

void reap(int sock)
{
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        (void)send_json(sock, {{"pid", pid}, {"status", status}});
}

}  // namespace

int zygote_main(int argc, char** argv, int sock, ShellMain shell_main)
{
    if (argc > 0) {
        cmdline.start = argv[0];
        cmdline.room = static_cast<std::size_t>(argv[argc - 1] + std::strlen(argv[argc - 1]) + 1 - argv[0]);
    }
    // What every shell would otherwise look up for itself, done once here
    // and inherited by each fork: the locale (f58 ids) and the core to cpu
    // map of this machine (binding).
    setlocale(LC_CTYPE, "");
    (void)core_cpus();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        fprintf(stderr, "flux-shell --zygote: signalfd: %s\n", strerror(errno));
        return 1;
    }
    // Left uninitialised: pages a request never reached stay out of every
    // fork's page tables.
    std::unique_ptr<char[]> buf(new char[max_packet]);
    for (;;) {
        struct pollfd pfd[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
            }
            reap(sock);
        }
        if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        struct iovec iov = {buf.get(), max_packet};
        alignas(struct cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
        struct msghdr msg = {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;  // the broker is gone
        int fds[4] = {-1, -1, -1, -1};
        int nfds = 0;
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                nfds = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                std::memcpy(fds, CMSG_DATA(c), sizeof(int) * static_cast<std::size_t>(std::min(nfds, 4)));
            }
        }
        if (nfds == 4 && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
            spawn(sock, sigfd, buf.get(), static_cast<std::size_t>(n), fds, shell_main);
        else
            (void)send_json(sock, {{"id", 0}, {"errnum", EPROTO}});
        for (int i = 0; i < std::min(nfds, 4); i++)
            close(fds[i]);
    }
    // Shells still running are reparented when we go; they need nothing from us.
    return 0;
}

}  // namespace flux::shell
