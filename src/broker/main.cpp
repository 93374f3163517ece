// flux-broker: parse the command line and run a broker.
//
// flux-broker [-v] [-S NAME=VALUE]... [-c PATH] [--conf KEY=VAL]... [--] [INITIAL-PROGRAM ARGS...]
#include <signal.h>

#include <cstring>
#include <string>

#include <fmt/format.h>

#include "broker.hpp"

namespace {

int usage(const char* why)
{
    fmt::print(stderr, "flux-broker: {}\n", why);
    fmt::print(stderr, "Usage: flux-broker [-v] [-S NAME=VALUE]... [-c PATH] [--conf KEY=VAL]... [CMD ARGS...]\n");
    return 1;
}

}  // namespace

int main(int argc, char** argv)
{
    // Block the signals the broker handles through signalfd before any
    // thread (ZeroMQ's, modules') exists, so they all inherit the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    // glibc's default of one malloc arena per thread is kept on purpose:
    // messages are allocated on one thread and freed on another, and with a
    // single shared arena (M_ARENA_MAX=1) the module threads queued on its
    // lock, costing a third of the submission rate. Idle RSS is the same
    // either way and RSS after a burst is lower (malloc_trim per arena).

    flux::broker::Options opts;
    int i = 1;
    auto value = [&](std::string_view opt, std::string& out) -> bool {
        std::string a = argv[i];
        if (a.size() > opt.size() && a.compare(0, opt.size(), opt) == 0) {  // -Sfoo=bar, --conf=x
            out = a.substr(opt.size());
            if (!out.empty() && out[0] == '=' && opt.starts_with("--"))
                out.erase(0, 1);
            return true;
        }
        if (i + 1 >= argc)
            return false;
        out = argv[++i];
        return true;
    };
    for (; i < argc; i++) {
        std::string a = argv[i];
        std::string v;
        if (a == "--") {
            i++;
            break;
        }
        if (a.empty() || a[0] != '-')
            break;
        if (a == "-v" || a == "--verbose") {
            opts.verbose++;
        } else if (a.starts_with("-S") || a.starts_with("--setattr")) {
            if (!value(a.starts_with("-S") ? "-S" : "--setattr", v))
                return usage("-S requires NAME=VALUE");
            auto eq = v.find('=');
            if (eq == std::string::npos || eq == 0)
                return usage(fmt::format("-S {}: expected NAME=VALUE", v).c_str());
            opts.setattrs.emplace_back(v.substr(0, eq), v.substr(eq + 1));
        } else if (a.starts_with("-c") || a.starts_with("--config-path")) {
            if (!value(a.starts_with("-c") ? "-c" : "--config-path", v))
                return usage("-c requires a path");
            opts.config_path = v;
        } else if (a.starts_with("--conf")) {
            if (!value("--conf", v))
                return usage("--conf requires KEY=VAL");
            opts.conf_overrides.push_back(v);
        } else {
            return usage(fmt::format("unknown option '{}'", a).c_str());
        }
    }
    for (; i < argc; i++)
        opts.initial_program.emplace_back(argv[i]);
    flux::broker::Broker b(std::move(opts));
    return b.run();
}
