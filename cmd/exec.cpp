// flux exec: run a command on broker ranks through the rexec service,
// forwarding stdin and signals, and exit with the largest exit code.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <flux/idset.hpp>

#include "commands.hpp"
#include "common.hpp"

extern char** environ;

namespace flux::cmd {

using json = nlohmann::json;

namespace {

constexpr const char* CMD = "exec";

struct Proc {
    uint32_t rank;
    Future f;
    int pid = -1;
    bool done = false;
    int status = 0;
    std::string partial_out, partial_err;
};

void write_all(int fd, std::string_view s)
{
    while (!s.empty()) {
        ssize_t n = write(fd, s.data(), s.size());
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return;
        }
        s.remove_prefix(static_cast<size_t>(n));
    }
}

}  // namespace

int exec(int argc, char** argv)
{
    std::string ranks = "all";
    bool noinput = false, label = false, quiet = false;
    std::string dir;
    CLI::App app{"Execute processes across broker ranks", "flux exec"};
    app.add_option("-r,--rank", ranks, "Target ranks: an idset or 'all' (default)");
    app.add_flag("-n,--noinput", noinput, "Do not forward standard input");
    app.add_flag("-l,--label-io", label, "Prefix output lines with the rank");
    app.add_option("-d,--dir", dir, "Working directory of the processes");
    app.add_flag("-q,--quiet", quiet, "Do not report non-zero exits");
    app.prefix_command();
    parse_or_exit(app, argc, argv, CMD);
    std::vector<std::string> cmd = app.remaining();
    if (!cmd.empty() && cmd[0] == "--")
        cmd.erase(cmd.begin());
    if (cmd.empty())
        die(CMD, "no command given. See 'flux exec --help'.");
    if (cmd[0].starts_with("-"))
        die(CMD, fmt::format("unknown option '{}'", cmd[0]));

    auto h = open_or_die(CMD);
    auto size = h->size();
    if (!size)
        die(CMD, size.error().message());
    IdSet targets;
    if (ranks == "all") {
        (void)targets.insert_range(0, *size - 1);
    } else {
        auto ids = IdSet::parse(ranks);
        if (!ids)
            die(CMD, ids.error().message());
        targets = *ids;
        if (targets.empty())
            die(CMD, "no ranks selected");
        if (*targets.last() >= *size)
            die(CMD, fmt::format("rank {} is not in this instance (size {})", *targets.last(), *size));
    }
    if (dir.empty()) {
        char buf[4096];
        if (getcwd(buf, sizeof(buf)))
            dir = buf;
    }
    json env = json::object();
    for (char** e = environ; *e; e++) {
        std::string s = *e;
        auto eq = s.find('=');
        if (eq != std::string::npos)
            env[s.substr(0, eq)] = s.substr(eq + 1);
    }
    json req{{"cmd", cmd}, {"env", env}, {"cwd", dir}, {"stdin", !noinput}};
    std::string payload = req.dump(-1, ' ', false, json::error_handler_t::replace);

    std::map<uint32_t, Proc> procs;
    int remaining = 0;
    int exit_code = 0;
    auto emit = [&](Proc& p, const std::string& stream, const std::string& data, bool flush) {
        int fd = stream == "stderr" ? 2 : 1;
        if (!label) {
            write_all(fd, data);
            return;
        }
        std::string& part = stream == "stderr" ? p.partial_err : p.partial_out;
        part += data;
        size_t nl;
        while ((nl = part.find('\n')) != std::string::npos) {
            write_all(fd, fmt::format("{}: {}", p.rank, part.substr(0, nl + 1)));
            part.erase(0, nl + 1);
        }
        if (flush && !part.empty()) {
            write_all(fd, fmt::format("{}: {}\n", p.rank, part));
            part.clear();
        }
    };
    auto finish = [&](Proc& p) {
        if (p.done)
            return;
        p.done = true;
        remaining--;
        if (remaining == 0)
            h->reactor().stop(0);
    };
    for (uint32_t rank : targets) {
        Proc& p = procs[rank];
        p.rank = rank;
        remaining++;
        p.f = h->rpc("rexec.exec", payload, rank, msgflag::streaming);
        p.f.then([&, rank](Future& f) {
            Proc& p = procs[rank];
            for (;;) {
                if (!f.ready())
                    return;
                auto r = f.get();
                f.reset();
                if (!r) {
                    if (r.error().errnum != ENODATA) {
                        errorf(CMD, fmt::format("rank {}: {}", rank, r.error().message()));
                        exit_code = std::max(exit_code, r.error().errnum == ENOENT ? 127 : 1);
                    }
                    finish(p);
                    return;
                }
                json j;
                try {
                    j = json::parse(r->payload);
                } catch (const std::exception& e) {
                    errorf(CMD, fmt::format("rank {}: malformed response: {}", rank, e.what()));
                    continue;
                }
                std::string type = j.value("type", "");
                if (type == "started") {
                    p.pid = j.value("pid", -1);
                } else if (type == "output") {
                    emit(p, j.value("stream", "stdout"), j.value("data", ""), false);
                } else if (type == "eof") {
                    emit(p, j.value("stream", "stdout"), "", true);
                } else if (type == "finished") {
                    int st = j.value("status", 0);
                    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                    if (code != 0 && !quiet) {
                        if (WIFSIGNALED(st))
                            errorf(CMD, fmt::format("Error: rank {}: {}", rank, strsignal(WTERMSIG(st))));
                        else
                            errorf(CMD, fmt::format("Error: rank {}: exited with exit code {}", rank, code));
                    }
                    exit_code = std::max(exit_code, code);
                }
            }
        });
    }
    // Forward stdin to every process, and signals to every process.
    WatcherPtr stdin_w;
    if (!noinput) {
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
        auto on_stdin = [&](uint32_t) {
            char buf[65536];
            ssize_t n = read(0, buf, sizeof(buf));
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            bool eof = n <= 0;
            std::string data = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
            for (auto& [rank, p] : procs) {
                if (p.done || p.pid < 0)
                    continue;
                json w{{"pid", p.pid}, {"data", data}, {"eof", eof}};
                (void)h->rpc("rexec.write", w.dump(-1, ' ', false, json::error_handler_t::replace), rank);
            }
            if (eof)
                stdin_w.reset();
        };
        // Wait until every process has started before reading stdin.
        auto starter = std::make_shared<WatcherPtr>();
        *starter = h->reactor().check([&, starter, on_stdin]() mutable {
            for (auto& [rank, p] : procs)
                if (p.pid < 0 && !p.done)
                    return;
            stdin_w = h->reactor().fd(0, EPOLLIN, on_stdin);
            h->reactor().defer([starter] { starter->reset(); });
        });
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    int nsig = 0;
    auto forward = [&](int sig) {
        nsig++;
        for (auto& [rank, p] : procs) {
            if (!p.done && p.pid > 0)
                (void)h->rpc("rexec.kill", json{{"pid", p.pid}, {"signum", nsig > 2 ? SIGKILL : sig}}.dump(), rank);
        }
    };
    auto sigint = h->reactor().signal(SIGINT, forward);
    auto sigterm = h->reactor().signal(SIGTERM, forward);
    h->on_disconnect([&](const Error& e) { die(CMD, e.message()); });
    h->reactor().run();
    return exit_code;
}

}  // namespace flux::cmd
