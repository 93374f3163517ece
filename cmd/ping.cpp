// flux ping: time echo requests to a service, optionally on one rank.
#include <time.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {
double mono()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

int ping(int argc, char** argv)
{
    std::string target;
    std::string rank_s;
    int count = -1;
    double interval = 1.0;
    int pad = 0;
    CLI::App app{"Send echo requests to a service", "flux ping"};
    app.add_option("-r,--rank", rank_s, "Send to this broker rank");
    app.add_option("-c,--count", count, "Stop after COUNT replies")->check(CLI::PositiveNumber);
    app.add_option("-i,--interval", interval, "Seconds between requests")->check(CLI::NonNegativeNumber);
    app.add_option("-p,--pad", pad, "Pad the payload with N bytes")->check(CLI::NonNegativeNumber);
    app.add_option("target", target, "SERVICE, RANK!SERVICE, or RANK (the broker service)")->required();
    parse_or_exit(app, argc, argv, "ping");

    uint32_t nodeid = NODEID_ANY;
    std::string service = target;
    auto bang = target.find('!');
    if (bang != std::string::npos) {
        rank_s = target.substr(0, bang);
        service = target.substr(bang + 1);
    } else if (!target.empty() && target.find_first_not_of("0123456789") == std::string::npos) {
        rank_s = target;
        service = "broker";
    }
    if (!rank_s.empty() && rank_s != "any") {
        try {
            size_t pos = 0;
            nodeid = static_cast<uint32_t>(std::stoul(rank_s, &pos));
            if (pos != rank_s.size())
                throw std::invalid_argument(rank_s);
        } catch (...) {
            die("ping", fmt::format("invalid rank '{}'", rank_s));
        }
    }
    if (service.empty())
        die("ping", "empty service name");
    auto h = open_or_die("ping");
    std::string topic = service + ".ping";
    std::string padding(static_cast<size_t>(pad), 'p');
    for (int seq = 0; count < 0 || seq < count; seq++) {
        json req{{"seq", seq}, {"pad", padding}};
        double t0 = mono();
        auto r = h->rpc(topic, req.dump(), nodeid).get();
        double ms = (mono() - t0) * 1000;
        if (!r)
            die("ping", fmt::format("{}{}: {}", nodeid == NODEID_ANY ? "" : rank_s + "!", topic, r.error().message()));
        std::string route;
        try {
            route = json::parse(r->payload).value("route", "");
        } catch (...) {
        }
        fmt::print("{}{} pad={} seq={} time={:.3f} ms ({})\n", nodeid == NODEID_ANY ? "" : rank_s + "!", topic, pad,
                   seq, ms, route);
        std::fflush(stdout);
        if ((count < 0 || seq + 1 < count) && interval > 0) {
            bool done = false;
            auto t = h->reactor().timer(interval, 0, [&] { done = true; });
            while (!done)
                h->reactor().run_once();
        }
    }
    return 0;
}

}  // namespace flux::cmd
