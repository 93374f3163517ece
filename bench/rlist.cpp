// Rlist benchmark: an R of 16,384 nodes x 64 cores (one R_lite entry);
// prints the median milliseconds over 20 runs of parse, emit, union,
// difference and intersection, and of their total. Never fails on time.
//
//   bench-rlist [-n NODES] [-c CORES] [-r RUNS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <flux/rlist.hpp>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string make_R(unsigned nodes, const std::string& cores)
{
    std::string last = std::to_string(nodes - 1);
    return "{\"version\":1,\"execution\":{\"R_lite\":[{\"rank\":\"0-" + last + "\",\"children\":{\"core\":\"" + cores +
           "\"}}],\"nodelist\":[\"node[0-" + last + "]\"],\"starttime\":0,\"expiration\":0}}";
}

template <class T>
T must(flux::Result<T> r, const char* what)
{
    if (!r) {
        std::fprintf(stderr, "bench-rlist: %s: %s\n", what, r.error().message().c_str());
        std::exit(1);
    }
    return std::move(*r);
}

}  // namespace

int main(int argc, char** argv)
{
    unsigned nodes = 16384;
    unsigned cores = 64;
    int runs = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string o = argv[i];
        if (o == "-n")
            nodes = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
        else if (o == "-c")
            cores = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
        else if (o == "-r")
            runs = std::atoi(argv[i + 1]);
    }
    if (nodes < 1 || cores < 2 || runs < 1) {
        std::fprintf(stderr, "usage: bench-rlist [-n NODES>0] [-c CORES>1] [-r RUNS>0]\n");
        return 1;
    }
    // A: every core; B: the lower half of the cores on the same nodes.
    const std::string text_a = make_R(nodes, "0-" + std::to_string(cores - 1));
    const std::string text_b = make_R(nodes, "0-" + std::to_string(cores / 2 - 1));
    const flux::Rlist b = must(flux::Rlist::parse(text_b), "parse B");

    std::vector<double> parse, emit, uni, diff, inter, total;
    std::size_t sink = 0;
    for (int i = 0; i < runs; i++) {
        auto t0 = Clock::now();
        flux::Rlist a = must(flux::Rlist::parse(text_a), "parse A");
        parse.push_back(ms_since(t0));

        auto t1 = Clock::now();
        std::string out = a.to_json();
        emit.push_back(ms_since(t1));

        auto t2 = Clock::now();
        flux::Rlist u = must(a.union_with(b), "union");
        uni.push_back(ms_since(t2));

        auto t3 = Clock::now();
        flux::Rlist d = must(a.difference(b), "difference");
        diff.push_back(ms_since(t3));

        auto t4 = Clock::now();
        flux::Rlist x = must(a.intersection(b), "intersection");
        inter.push_back(ms_since(t4));

        total.push_back(ms_since(t0));
        sink += out.size() + u.nnodes() + d.nnodes() + x.nnodes();
    }
    std::printf("R: %u nodes x %u cores, %d runs, median ms (sink %zu)\n", nodes, cores, runs, sink);
    std::printf("  parse         %8.3f\n", median(parse));
    std::printf("  emit          %8.3f\n", median(emit));
    std::printf("  union         %8.3f\n", median(uni));
    std::printf("  difference    %8.3f\n", median(diff));
    std::printf("  intersection  %8.3f\n", median(inter));
    std::printf("  total         %8.3f\n", median(total));
    return 0;
}
