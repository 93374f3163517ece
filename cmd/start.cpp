// flux start: run a broker from the environment's PMI, or --test-size=N
// brokers on this host with a PMI-1 server of our own.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <CLI/CLI.hpp>

#include <flux/hostlist.hpp>
#include <flux/pmi.hpp>
#include <flux/reactor.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "libflux/paths.hpp"

extern char** environ;

namespace flux::cmd {

namespace {

constexpr const char* CMD = "start";

struct Opts {
    int size = 0;
    std::string test_hosts;
    std::vector<std::string> broker_opts;
    std::vector<std::string> setattrs;
    std::string config_path;
    std::vector<std::string> confs;
    std::string rundir;
    int verbose = 0;
    bool noexec = false;
    double exit_timeout = 20;
    std::vector<std::string> command;
};

std::vector<std::string> split_commas(const std::string& s)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t c = s.find(',', start);
        std::string part = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
        if (!part.empty())
            out.push_back(part);
        if (c == std::string::npos)
            break;
        start = c + 1;
    }
    return out;
}

std::vector<std::string> broker_args(const Opts& o)
{
    std::vector<std::string> a;
    a.push_back(paths::broker_path());
    for (int i = 0; i < o.verbose; i++)
        a.push_back("-v");
    for (const auto& bo : o.broker_opts)
        for (auto& p : split_commas(bo))
            a.push_back(p);
    for (const auto& s : o.setattrs)
        a.push_back("-S" + s);
    if (!o.config_path.empty())
        a.push_back("-c" + o.config_path);
    for (const auto& c : o.confs)
        a.push_back("--conf=" + c);
    return a;
}

struct Broker {
    int rank = 0;
    pid_t pid = -1;
    int fd = -1;  // our end of its PMI socket
    WatcherPtr fd_w, child_w;
    bool exited = false;
    int status = 0;
};

class TestInstance {
public:
    TestInstance(Opts o) : o_(std::move(o)), pmi_(o_.size, fmt::format("flux-start-{}", getpid())) {}

    int run()
    {
        std::vector<std::string> hosts;
        if (!o_.test_hosts.empty()) {
            auto hl = Hostlist::parse(o_.test_hosts);
            if (!hl)
                die(CMD, hl.error().message());
            hosts = hl->expand();
            if (hosts.size() < static_cast<size_t>(o_.size))
                die(CMD, fmt::format("--test-hosts: {} hosts given for --test-size={}", hosts.size(), o_.size));
        }
        bool own_rundir = o_.rundir.empty();
        std::string base = o_.rundir;
        if (own_rundir) {
            char tmpl[] = "/tmp/flux-XXXXXX";
            if (!mkdtemp(tmpl))
                die(CMD, fmt::format("cannot create rundir: {}", strerror(errno)));
            base = tmpl;
            // Traversable, so a broker configured for guests can expose its
            // socket; each broker's own rundir stays 0700 otherwise.
            chmod(base.c_str(), 0755);
        } else if (mkdir(base.c_str(), 0700) < 0 && errno != EEXIST) {
            die(CMD, fmt::format("{}: {}", base, strerror(errno)));
        }
        (void)pmi_.preput("PMI_process_mapping", fmt::format("(vector,(0,1,{}))", o_.size));
        sigint_ = r_.signal(SIGINT, [this](int) { on_signal(SIGINT); });
        sigterm_ = r_.signal(SIGTERM, [this](int) { on_signal(SIGTERM); });
        brokers_.resize(static_cast<size_t>(o_.size));
        auto common = broker_args(o_);
        for (int rank = 0; rank < o_.size; rank++) {
            auto args = common;
            args.push_back(fmt::format("-Srundir={}/{}", base, rank));
            if (!hosts.empty())
                args.push_back("-Shostname=" + hosts[static_cast<size_t>(rank)]);
            if (rank == 0 && !o_.command.empty()) {
                args.push_back("--");
                for (const auto& c : o_.command)
                    args.push_back(c);
            }
            if (o_.verbose || o_.noexec)
                fmt::print(stderr, "{}\n", fmt::join(args, " "));
            if (!o_.noexec)
                spawn(rank, args);
        }
        int code = 0;
        if (!o_.noexec) {
            r_.run();
            auto& b0 = brokers_[0];
            if (WIFEXITED(b0.status))
                code = WEXITSTATUS(b0.status);
            else if (WIFSIGNALED(b0.status)) {
                code = 128 + WTERMSIG(b0.status);
                if (WTERMSIG(b0.status) != SIGKILL || !killed_)
                    errorf(CMD, fmt::format("broker rank 0 died: {}", strsignal(WTERMSIG(b0.status))));
            }
            if (pmi_abort_ || startup_failed_)
                code = 1;
        }
        if (own_rundir) {
            std::error_code ec;
            std::filesystem::remove_all(base, ec);
        }
        return code;
    }

private:
    void spawn(int rank, const std::vector<std::string>& args)
    {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            die(CMD, fmt::format("socketpair: {}", strerror(errno)));
        // The broker's end must survive exec: it is the only fd without CLOEXEC.
        fcntl(sv[1], F_SETFD, 0);
        std::vector<std::string> env;
        for (char** e = environ; *e; e++) {
            if (strncmp(*e, "PMI_", 4) != 0 && strncmp(*e, "FLUX_URI=", 9) != 0)
                env.emplace_back(*e);
        }
        env.push_back(fmt::format("PMI_FD={}", sv[1]));
        env.push_back(fmt::format("PMI_RANK={}", rank));
        env.push_back(fmt::format("PMI_SIZE={}", o_.size));
        std::vector<char*> av, ev;
        std::vector<std::string> argcopy = args;
        for (auto& a : argcopy)
            av.push_back(a.data());
        av.push_back(nullptr);
        for (auto& e : env)
            ev.push_back(e.data());
        ev.push_back(nullptr);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        pid_t pid;
        int rc = posix_spawn(&pid, av[0], nullptr, &attr, av.data(), ev.data());
        posix_spawnattr_destroy(&attr);
        close(sv[1]);
        if (rc != 0)
            die(CMD, fmt::format("{}: {}", av[0], strerror(rc)));
        auto& b = brokers_[static_cast<size_t>(rank)];
        b.rank = rank;
        b.pid = pid;
        b.fd = sv[0];
        fcntl(b.fd, F_SETFL, O_NONBLOCK);
        running_++;
        b.fd_w = r_.fd(b.fd, EPOLLIN, [this, rank](uint32_t) { on_pmi(rank); });
        b.child_w = r_.child(pid, [this, rank](pid_t, int status) { on_exit(rank, status); });
    }

    void on_pmi(int rank)
    {
        auto& b = brokers_[static_cast<size_t>(rank)];
        char buf[4096];
        ssize_t n = read(b.fd, buf, sizeof(buf));
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            close_pmi(b);
            return;
        }
        if (auto r = pmi_.feed(rank, std::string_view(buf, static_cast<size_t>(n))); !r) {
            errorf(CMD, fmt::format("rank {}: PMI: {}", rank, r.error().message()));
            close_pmi(b);
        }
        for (auto& [to, bytes] : pmi_.take_output()) {
            auto& dst = brokers_[static_cast<size_t>(to)];
            if (dst.fd >= 0)
                (void)!write(dst.fd, bytes.data(), bytes.size());
        }
        if (pmi_.aborted() && !pmi_abort_) {
            pmi_abort_ = true;
            errorf(CMD, fmt::format("rank {} aborted: {}", pmi_.aborted()->rank, pmi_.aborted()->message));
            kill_all(SIGKILL);
        }
    }

    void close_pmi(Broker& b)
    {
        b.fd_w.reset();
        if (b.fd >= 0)
            close(b.fd);
        b.fd = -1;
    }

    void on_exit(int rank, int status)
    {
        auto& b = brokers_[static_cast<size_t>(rank)];
        b.exited = true;
        b.status = status;
        close_pmi(b);
        running_--;
        if (o_.verbose)
            fmt::print(stderr, "flux-start: rank {} exited (status {:#x})\n", rank, status);
        if (pmi_.barriers_completed() == 0 && running_ > 0 && !killed_) {
            // A broker died during bootstrap: the others would wait forever
            // at the PMI barrier.
            errorf(CMD, fmt::format("broker rank {} exited during start-up; stopping the others", rank));
            startup_failed_ = true;
            kill_all(SIGKILL);
        }
        if (rank == 0 && running_ > 0) {
            // Normally the others have left already; any still here (rank 0
            // failed early) are asked to go, then made to.
            kill_all(SIGTERM);
            exit_timer_ = r_.timer(o_.exit_timeout, 0, [this] {
                errorf(CMD, "brokers still running after rank 0 exited; killing them");
                kill_all(SIGKILL);
            });
        }
        if (running_ == 0)
            r_.stop(0);
    }

    void on_signal(int sig)
    {
        signals_++;
        if (signals_ > 1) {
            kill_all(SIGKILL);
            return;
        }
        auto& b0 = brokers_[0];
        if (!b0.exited && b0.pid > 0)
            kill(b0.pid, sig == SIGINT ? SIGINT : SIGTERM);
        else
            kill_all(SIGTERM);
    }

    void kill_all(int sig)
    {
        killed_ = killed_ || sig == SIGKILL;
        for (auto& b : brokers_)
            if (!b.exited && b.pid > 0)
                kill(b.pid, sig);
    }

    Opts o_;
    Reactor r_;
    PmiServer pmi_;
    std::vector<Broker> brokers_;
    int running_ = 0;
    int signals_ = 0;
    bool killed_ = false;
    bool pmi_abort_ = false;
    bool startup_failed_ = false;
    TimerPtr exit_timer_;
    WatcherPtr sigint_, sigterm_;
};

}  // namespace

int start(int argc, char** argv)
{
    Opts o;
    CLI::App app{"Bootstrap a local Flux instance", "flux start"};
    app.add_option("-s,--test-size", o.size, "Start N brokers on this host (test instance)")
        ->check(CLI::Range(1, 100000));
    app.add_option("--test-hosts", o.test_hosts, "Set the hostname attribute of each broker from HOSTLIST");
    app.add_option("-o,--broker-opts", o.broker_opts, "Add comma-separated options to each broker's command line")
        ->allow_extra_args(false);
    app.add_option("-S,--setattr", o.setattrs, "Set broker attribute ATTR=VAL")->allow_extra_args(false);
    app.add_option("-c,--config-path", o.config_path, "Broker configuration: a TOML file or directory");
    app.add_option("--conf", o.confs, "Set configuration KEY=VAL")->allow_extra_args(false);
    app.add_option("--rundir", o.rundir, "Use DIR as the instance's run directory (not removed at exit)");
    app.add_flag("-v,--verbose", o.verbose, "Show what is run");
    app.add_flag("-X,--noexec", o.noexec, "Print the broker command lines, run nothing");
    app.add_option("--test-exit-timeout", o.exit_timeout, "Seconds to wait for brokers after rank 0 exits");
    app.prefix_command();  // everything from the first non-option on is the initial program
    app.footer("Arguments after the options are the initial program and its arguments.");
    parse_or_exit(app, argc, argv, CMD);
    o.command = app.remaining();
    if (!o.command.empty() && o.command[0] == "--")
        o.command.erase(o.command.begin());
    else if (!o.command.empty() && o.command[0].starts_with("-"))
        die(CMD, fmt::format("unknown option '{}'. See 'flux start --help'.", o.command[0]));
    for (const auto& s : o.setattrs)
        if (s.find('=') == std::string::npos || s[0] == '=')
            die(CMD, fmt::format("--setattr {}: expected ATTR=VAL", s));
    for (const auto& c : o.confs)
        if (c.find('=') == std::string::npos || c[0] == '=')
            die(CMD, fmt::format("--conf {}: expected KEY=VAL", c));
    if (!o.test_hosts.empty() && o.size == 0)
        die(CMD, "--test-hosts requires --test-size");

    // Block signals now so the reactor's signalfd gets them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    if (o.size == 0) {
        // One broker, bootstrapped from whatever PMI the environment offers.
        auto args = broker_args(o);
        if (!o.rundir.empty())
            args.push_back("-Srundir=" + o.rundir);
        if (!o.command.empty()) {
            args.push_back("--");
            for (const auto& c : o.command)
                args.push_back(c);
        }
        if (o.verbose || o.noexec)
            fmt::print(stderr, "{}\n", fmt::join(args, " "));
        if (o.noexec)
            return 0;
        std::vector<char*> av;
        for (auto& a : args)
            av.push_back(a.data());
        av.push_back(nullptr);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, nullptr);
        execv(av[0], av.data());
        die(CMD, fmt::format("{}: {}", av[0], strerror(errno)), 126);
    }
    TestInstance ti(std::move(o));
    return ti.run();
}

}  // namespace flux::cmd
