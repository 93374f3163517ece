// RPC benchmark: round-trip latency (median, p99) to a rank, and pipelined
// throughput through the local connector. Prints figures; never fails on time.
//
//   bench-rpc [-r RANK] [-n COUNT] [-w WINDOW] [-t TOPIC]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <flux/handle.hpp>

namespace {

double mono()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv)
{
    uint32_t rank = flux::NODEID_ANY;
    int count = 20000;
    int window = 256;
    std::string topic = "broker.ping";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string o = argv[i];
        if (o == "-r")
            rank = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
        else if (o == "-n")
            count = std::atoi(argv[i + 1]);
        else if (o == "-w")
            window = std::atoi(argv[i + 1]);
        else if (o == "-t")
            topic = argv[i + 1];
    }
    auto h = flux::Handle::open();
    if (!h) {
        std::fprintf(stderr, "bench-rpc: %s\n", h.error().message().c_str());
        return 1;
    }
    auto& hd = **h;
    // Latency: one at a time.
    int lat_n = std::min(count, 5000);
    std::vector<double> us;
    us.reserve(static_cast<size_t>(lat_n));
    for (int i = 0; i < 200; i++)  // warm up
        (void)hd.rpc(topic, "{}", rank).get();
    for (int i = 0; i < lat_n; i++) {
        double t0 = mono();
        auto r = hd.rpc(topic, "{}", rank).get();
        if (!r) {
            std::fprintf(stderr, "bench-rpc: %s\n", r.error().message().c_str());
            return 1;
        }
        us.push_back((mono() - t0) * 1e6);
    }
    std::sort(us.begin(), us.end());
    double median = us[us.size() / 2];
    double p99 = us[us.size() * 99 / 100];
    // Throughput: keep `window` requests in flight.
    int sent = 0, done = 0, errors = 0;
    double t0 = mono();
    std::vector<flux::Future> inflight;
    std::function<void()> send_one;
    send_one = [&] {
        auto f = hd.rpc(topic, "{}", rank);
        sent++;
        f.then([&](flux::Future& fut) {
            if (!fut.get())
                errors++;
            done++;
            if (sent < count)
                send_one();
            if (done == count)
                hd.reactor().stop(0);
        });
    };
    for (int i = 0; i < window && sent < count; i++)
        send_one();
    hd.reactor().run();
    double secs = mono() - t0;
    std::printf("rpc %-12s rank=%-4s latency median %.1f us  p99 %.1f us  (%d round trips)\n", topic.c_str(),
                rank == flux::NODEID_ANY ? "any" : std::to_string(rank).c_str(), median, p99, lat_n);
    std::printf("rpc %-12s rank=%-4s pipelined %.0f requests/s  (%d requests, window %d, %d errors)\n", topic.c_str(),
                rank == flux::NODEID_ANY ? "any" : std::to_string(rank).c_str(), count / secs, count, window, errors);
    return errors ? 1 : 0;
}
