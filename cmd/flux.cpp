// flux: the command front end. `flux CMD ARGS...` runs a built-in command or,
// like git, an executable flux-CMD found on FLUX_EXEC_PATH or in libexec.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "libflux/paths.hpp"

namespace {

struct Command {
    const char* name;
    int (*fn)(int, char**);
    const char* help;
};

const Command commands[] = {
    {"start", flux::cmd::start, "Bootstrap a local Flux instance"},
    {"getattr", flux::cmd::getattr, "Get a broker attribute"},
    {"setattr", flux::cmd::setattr, "Set a broker attribute"},
    {"lsattr", flux::cmd::lsattr, "List broker attributes"},
    {"module", flux::cmd::module, "Manage broker modules"},
    {"ping", flux::cmd::ping, "Send echo requests to a service"},
    {"dmesg", flux::cmd::dmesg, "Print or control the broker log ring"},
    {"overlay", flux::cmd::overlay, "Show overlay network status"},
    {"uptime", flux::cmd::uptime, "Tell how long the instance has been running"},
    {"shutdown", flux::cmd::shutdown, "Shut down the instance"},
    {"version", flux::cmd::version, "Display flux version information"},
    {"event", flux::cmd::event, "Publish and subscribe to events"},
    {"exec", flux::cmd::exec, "Execute processes across broker ranks"},
    {"logger", flux::cmd::logger, "Log a message to the broker log ring"},
    {"resource", flux::cmd::resource, "List and manipulate resources"},
    {"run", flux::cmd::run, "Run a job interactively"},
    {"submit", flux::cmd::submit, "Submit a job"},
    {"bulksubmit", flux::cmd::bulksubmit, "Submit jobs in bulk"},
    {"job", flux::cmd::job, "Job housekeeping: attach, status, kill, eventlog, ..."},
    {"cancel", flux::cmd::cancel, "Cancel jobs"},
    {"queue", flux::cmd::queue, "Manage the job queue"},
    {"jobs", flux::cmd::jobs, "List jobs"},
    {"pstree", flux::cmd::pstree, "Display a tree of running jobs by name"},
    {"batch", flux::cmd::batch, "Submit a batch script to run in a new Flux instance"},
    {"alloc", flux::cmd::alloc, "Allocate resources and start a new Flux instance"},
    {"uri", flux::cmd::uri, "Resolve a job id or other target to a Flux URI"},
    {"proxy", flux::cmd::proxy, "Run a command connected to another Flux instance"},
    {"broker", flux::cmd::broker, "Run a flux-broker (as a job's task: a child instance)"},
};

void usage(FILE* f)
{
    fmt::print(f, "Usage: flux [--help] [--version] COMMAND [ARGS...]\n\nCommands:\n");
    for (const auto& c : commands)
        fmt::print(f, "  {:<10} {}\n", c.name, c.help);
    fmt::print(f, "\nRun 'flux COMMAND --help' for a command's options.\n");
}

std::vector<std::string> exec_path()
{
    std::vector<std::string> dirs;
    if (const char* env = getenv("FLUX_EXEC_PATH")) {
        std::string s = env;
        size_t start = 0;
        while (start <= s.size()) {
            size_t c = s.find(':', start);
            std::string d = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
            if (!d.empty())
                dirs.push_back(d);
            if (c == std::string::npos)
                break;
            start = c + 1;
        }
    }
    dirs.push_back(flux::paths::libexec_dir() + "/cmd");
    return dirs;
}

// Make sure the processes we start (initial programs, jobs) find this very
// `flux` first on PATH.
void prepend_bindir_to_path()
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return;
    std::string exe(buf, static_cast<size_t>(n));
    std::string dir = exe.substr(0, exe.rfind('/'));
    const char* path = getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    if (p == dir || p.starts_with(dir + ":"))
        return;
    p = dir + ":" + p;
    setenv("PATH", p.c_str(), 1);
}

}  // namespace

int main(int argc, char** argv)
{
    signal(SIGPIPE, SIG_IGN);
    prepend_bindir_to_path();
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    std::string name = argv[1];
    if (name == "-h" || name == "--help" || name == "help") {
        usage(stdout);
        return 0;
    }
    if (name == "-V" || name == "--version")
        name = "version";
    for (const auto& c : commands) {
        if (name == c.name) {
            std::string prog = std::string("flux-") + c.name;
            argv[1] = prog.data();
            return c.fn(argc - 1, argv + 1);
        }
    }
    if (!name.empty() && name[0] != '-') {
        for (const auto& dir : exec_path()) {
            std::string path = dir + "/flux-" + name;
            if (access(path.c_str(), X_OK) == 0) {
                std::vector<char*> av;
                av.push_back(path.data());
                for (int i = 2; i < argc; i++)
                    av.push_back(argv[i]);
                av.push_back(nullptr);
                execv(path.c_str(), av.data());
                fmt::print(stderr, "flux: {}: {}\n", path, strerror(errno));
                return 126;
            }
        }
    }
    fmt::print(stderr, "flux: '{}' is not a flux command.  See 'flux --help'.\n", name);
    return 1;
}
