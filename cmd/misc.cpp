// flux uptime, shutdown, version, broker: small instance-level commands.
#include <pwd.h>
#include <unistd.h>
#include <time.h>
#include <zmq.h>
#include <hwloc.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <flux/version.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "libflux/paths.hpp"

namespace flux::cmd {

using json = nlohmann::json;

int uptime(int argc, char** argv)
{
    CLI::App app{"Tell how long the instance has been running", "flux uptime"};
    parse_or_exit(app, argc, argv, "uptime");
    auto h = open_or_die("uptime");
    auto r = h->rpc("broker.info", "{}", 0).get();
    if (!r)
        die("uptime", r.error().message());
    auto j = json::parse(r->payload);
    time_t now = time(nullptr);
    struct tm tm;
    localtime_r(&now, &tm);
    char clock[32];
    strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    uint32_t uid = j.value("owner", 0u);
    struct passwd* pw = getpwuid(uid);
    std::string owner = pw ? pw->pw_name : std::to_string(uid);
    fmt::print(" {} {} {},  owner {},  depth {},  size {}\n", clock, j.value("state", "?"),
               format_fsd(j.value("uptime", 0.0)), owner, j.value("instance-level", "0"), j.value("size", 1));
    return 0;
}

int shutdown(int argc, char** argv)
{
    bool quiet = false;
    std::string timeout_s = "60";
    CLI::App app{"Shut down the Flux instance", "flux shutdown"};
    app.add_flag("-q,--quiet", quiet, "Print nothing");
    app.add_option("--timeout", timeout_s, "Give up waiting after this long (FSD)");
    parse_or_exit(app, argc, argv, "shutdown");
    auto t = parse_fsd(timeout_s);
    if (!t)
        die("shutdown", t.error().message());
    auto h = open_or_die("shutdown");
    auto r = h->rpc("broker.shutdown", "{}", 0).get();
    if (!r)
        die("shutdown", r.error().message());
    // Wait for the broker to go away (our connection closes).
    bool expired = false;
    auto timer = h->reactor().timer(*t, 0, [&] { expired = true; });
    while (h->connected() && !expired)
        h->reactor().run_once();
    if (expired)
        die("shutdown", "timed out waiting for the instance to exit");
    if (!quiet)
        fmt::print(stderr, "flux-shutdown: instance has shut down\n");
    return 0;
}

int version(int argc, char** argv)
{
    CLI::App app{"Display flux version information", "flux version"};
    parse_or_exit(app, argc, argv, "version");
    fmt::print("{:<16}{}\n", "commands:", FLUX_VERSION_STRING);
    fmt::print("{:<16}{}\n", "libflux-core:", FLUX_VERSION_STRING);
    if (getenv("FLUX_URI")) {
        if (auto h = Handle::open()) {
            if (auto v = (*h)->getattr("version"))
                fmt::print("{:<16}{}\n", "broker:", *v);
            fmt::print("{:<16}{}\n", "FLUX_URI:", getenv("FLUX_URI"));
        }
    }
    // The versions built against (headers only: the flux command loads
    // neither library).
    int maj = ZMQ_VERSION_MAJOR, min = ZMQ_VERSION_MINOR, pat = ZMQ_VERSION_PATCH;
    unsigned hv = HWLOC_API_VERSION;
    fmt::print("{:<16}+zmq=={}.{}.{}+hwloc=={}.{}.{}\n", "build-options:", maj, min, pat, hv >> 16, (hv >> 8) & 0xff,
               hv & 0xff);
    return 0;
}

// flux broker ARGS: the broker itself (flux batch and flux alloc jobs run
// `flux broker` as their tasks, as flux-core's do).
int broker(int argc, char** argv)
{
    std::string path = paths::broker_path();
    std::vector<char*> av{path.data()};
    for (int i = 1; i < argc; i++)
        av.push_back(argv[i]);
    av.push_back(nullptr);
    execv(path.c_str(), av.data());
    die("broker", fmt::format("{}: {}", path, strerror(errno)), 126);
}

}  // namespace flux::cmd
