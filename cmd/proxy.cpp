// flux uri and flux proxy: find the URI of a child instance (a batch or
// alloc job) from the memo its rank 0 posts on the job, and run a command
// connected to it.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <clocale>
#include <csignal>
#include <fstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/eventlog.hpp>
#include <flux/jobid.hpp>

#include "commands.hpp"
#include "common.hpp"

extern char** environ;

namespace flux::cmd {

using json = nlohmann::json;

namespace {

// ssh://HOST/PATH -> local://PATH and back.
std::string to_local(const std::string& uri)
{
    if (!uri.starts_with("ssh://"))
        return uri;
    auto slash = uri.find('/', 6);
    return "local://" + (slash == std::string::npos ? std::string() : uri.substr(slash));
}

std::string to_remote(const std::string& uri)
{
    if (!uri.starts_with("local://"))
        return uri;
    char host[256] = "localhost";
    gethostname(host, sizeof(host) - 1);
    return fmt::format("ssh://{}{}", host, uri.substr(8));
}

// The URI of job `idstr`'s instance in the instance `h` is connected to.
Result<std::string> job_uri(Handle& h, const std::string& idstr)
{
    auto id = parse_jobid(idstr);
    if (!id)
        return fail(EINVAL, fmt::format("{}: invalid job id", idstr));
    auto r = h.rpc("job-info.lookup", json{{"id", *id}, {"keys", {"eventlog"}}}.dump()).get();
    if (!r) {
        if (r.error().errnum == ENOENT)
            return fail(ENOENT, fmt::format("jobid {} not found", idstr));
        return fail(r.error().errnum, fmt::format("{}: {}", idstr, r.error().message()));
    }
    json resp = json::parse(r->payload, nullptr, false);
    auto log = decode_eventlog(resp.is_object() ? resp.value("eventlog", "") : "");
    if (!log)
        return fail(EPROTO, fmt::format("{}: eventlog: {}", idstr, log.error().message()));
    std::string uri;
    bool started = false, finished = false;
    for (const auto& e : *log) {
        if (e.name == "start")
            started = true;
        else if (e.name == "finish" || e.name == "clean")
            finished = true;
        else if (e.name == "memo" && e.context.is_object() && e.context.contains("uri") && e.context["uri"].is_string())
            uri = e.context["uri"].get<std::string>();
    }
    if (finished || (!started && uri.empty()))
        return fail(EINVAL, fmt::format("jobid {} is not running", idstr));
    if (uri.empty())
        return fail(EINVAL, fmt::format("jobid {} does not appear to be a Flux instance (no URI)", idstr));
    return uri;
}

// TARGET: a URI, pid:PID, or [jobid:]ID[/ID...], with an optional ?local
// or ?remote. `local`/`remote` force the form.
Result<std::string> resolve(std::string target, bool local, bool remote)
{
    if (auto q = target.rfind('?'); q != std::string::npos) {
        std::string query = target.substr(q + 1);
        target.erase(q);
        if (query == "local")
            local = true;
        else if (query == "remote")
            remote = true;
        else
            return fail(EINVAL, fmt::format("unknown query '?{}' (use ?local or ?remote)", query));
    }
    std::string uri;
    if (target.starts_with("local://") || target.starts_with("ssh://")) {
        uri = target;
    } else if (target.starts_with("pid:")) {
        // The broker's own FLUX_URI names its parent: read a child's.
        std::string pid = target.substr(4);
        std::ifstream in("/proc/" + pid + "/environ", std::ios::binary);
        if (!in)
            return fail(ENOENT, fmt::format("pid {}: no such process (or not ours)", pid));
        std::string var;
        while (std::getline(in, var, '\0'))
            if (var.starts_with("FLUX_URI="))
                uri = var.substr(9);
        std::string comm;
        std::ifstream("/proc/" + pid + "/comm") >> comm;
        if (comm == "flux-broker" || uri.empty()) {
            std::ifstream children("/proc/" + pid + "/task/" + pid + "/children");
            std::string child;
            uri.clear();
            while (uri.empty() && children >> child) {
                std::ifstream cin("/proc/" + child + "/environ", std::ios::binary);
                while (std::getline(cin, var, '\0'))
                    if (var.starts_with("FLUX_URI="))
                        uri = var.substr(9);
            }
        }
        if (uri.empty())
            return fail(ENOENT, fmt::format("pid {}: no FLUX_URI found", pid));
    } else {
        if (target.starts_with("jobid:"))
            target.erase(0, 6);
        if (target.empty())
            return fail(EINVAL, "empty job id");
        std::string cur;  // "" = the enclosing instance
        std::size_t pos = 0;
        while (pos <= target.size()) {
            std::size_t slash = target.find('/', pos);
            std::string id = target.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
            pos = slash == std::string::npos ? target.size() + 1 : slash + 1;
            if (id.empty())
                continue;
            auto h = Handle::open(to_local(cur));
            if (!h)
                return fail(h.error().errnum,
                            cur.empty() ? h.error().message() : fmt::format("{}: {}", cur, h.error().message()));
            auto u = job_uri(**h, id);
            if (!u)
                return std::unexpected(u.error());
            cur = *u;
        }
        uri = cur;
    }
    if (local)
        return to_local(uri);
    if (remote)
        return to_remote(uri);
    return uri;
}

}  // namespace

int uri(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Resolve TARGET (JOBID[/JOBID...], pid:PID, or a URI) to a Flux URI", "flux uri"};
    bool local = false, remote = false;
    std::string target;
    app.add_flag("--local", local, "Print the local:// form of the URI");
    app.add_flag("--remote", remote, "Print the ssh:// form of the URI");
    app.add_option("TARGET", target, "What to resolve")->required();
    parse_or_exit(app, argc, argv, "uri");
    if (local && remote)
        die("uri", "--local and --remote are mutually exclusive");
    auto u = resolve(target, local, remote);
    if (!u)
        die("uri", u.error().message());
    fmt::print("{}\n", *u);
    return 0;
}

int proxy(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Run a command (default: a shell) connected to the Flux instance TARGET", "flux proxy"};
    std::string target;
    app.add_option("TARGET", target, "JOBID[/JOBID...], pid:PID, or a URI")->required();
    app.prefix_command();
    parse_or_exit(app, argc, argv, "proxy");
    std::vector<std::string> command = app.remaining();
    auto u = resolve(target, false, false);
    if (!u)
        die("proxy", u.error().message());
    std::string local = to_local(*u);
    auto h = Handle::open(*u);
    if (!h)
        die("proxy", fmt::format("{}: {}", *u, h.error().message()));
    if (command.empty()) {
        const char* sh = getenv("SHELL");
        command.push_back(sh && *sh ? sh : "/bin/sh");
    }
    setenv("FLUX_URI", local.c_str(), 1);
    setenv("FLUX_PROXY_REMOTE", u->c_str(), 1);
    std::vector<char*> av;
    for (auto& a : command)
        av.push_back(a.data());
    av.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawnp(&pid, av[0], nullptr, nullptr, av.data(), environ);
    if (rc != 0)
        die("proxy", fmt::format("{}: {}", command[0], strerror(rc)), rc == ENOENT ? 127 : 126);
    // The command ends on its own, or gets SIGHUP when the instance goes
    // away under it (as when its terminal hangs up).
    int code = 0;
    bool lost = false;
    Handle& hh = **h;
    auto child = hh.reactor().child(pid, [&](pid_t, int status) {
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        hh.reactor().stop();
    });
    hh.on_disconnect([&](const Error&) {
        if (!lost) {
            lost = true;
            errorf("proxy", "Lost connection to Flux instance");
            kill(pid, SIGHUP);
        }
    });
    for (int sig : {SIGINT, SIGQUIT, SIGTSTP})
        signal(sig, SIG_IGN);  // the command (on our terminal) handles them
    hh.reactor().run();
    return code;
}

}  // namespace flux::cmd
