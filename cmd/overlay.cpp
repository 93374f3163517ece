// flux overlay status|parentof|lookup: the tree-based overlay network.
#include <time.h>

#include <functional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {

constexpr const char* CMD = "overlay";

struct Node {
    uint32_t rank;
    std::string host;
    std::string status;
    std::vector<Node> kids;
};

// Ask `rank` for its view and recurse into online children; children that
// are lost or offline are shown with their descendants presumed the same.
Node probe(Handle& h, uint32_t rank, const std::string& presumed, double timeout, uint32_t fanout, uint32_t size,
           bool ghost, const std::string& host = "")
{
    Node n{rank, host, presumed, {}};
    if (presumed.empty()) {
        auto r = h.rpc("overlay.health", "{}", rank).get(timeout);
        if (!r) {
            n.status = "lost";
        } else {
            auto j = json::parse(r->payload);
            n.host = j.value("hostname", "");
            n.status = j.value("status", "unknown");
            for (const auto& c : j["children"]) {
                std::string st = c.value("status", "offline");
                bool down = st == "lost" || st == "offline";
                n.kids.push_back(probe(h, c["rank"].get<uint32_t>(), down ? st : "", timeout, fanout, size, ghost,
                                       c.value("hostname", "")));
            }
            return n;
        }
    }
    if (ghost) {
        uint64_t first = uint64_t{rank} * fanout + 1;
        for (uint64_t c = first; c < first + fanout && c < size; c++)
            n.kids.push_back(probe(h, static_cast<uint32_t>(c), n.status == "lost" ? "lost" : "offline", timeout,
                                   fanout, size, ghost));
    }
    return n;
}

void print_tree(const Node& n, const std::string& prefix, bool last, bool root, bool pretty)
{
    std::string name = n.host.empty() ? std::to_string(n.rank) : fmt::format("{} {}", n.rank, n.host);
    if (root || !pretty)
        fmt::print("{}: {}\n", name, n.status);
    else
        fmt::print("{}{} {}: {}\n", prefix, last ? "└─" : "├─", name, n.status);
    std::string next = root ? "" : prefix + (last ? "   " : "│  ");
    for (size_t i = 0; i < n.kids.size(); i++)
        print_tree(n.kids[i], next, i + 1 == n.kids.size(), false, pretty);
}

}  // namespace

int overlay(int argc, char** argv)
{
    CLI::App app{"Show flux overlay network status", "flux overlay"};
    app.require_subcommand(1);
    uint32_t rank = 0;
    std::string timeout_s = "0.5";
    bool summary = false, no_pretty = false, no_ghost = false;
    auto* status = app.add_subcommand("status", "Show the status of the overlay tree");
    status->add_option("-r,--rank", rank, "Show the subtree rooted at RANK (default 0)");
    status->add_option("-t,--timeout", timeout_s, "RPC timeout (FSD), 0 = none");
    status->add_flag("--summary", summary, "Show only the root subtree status");
    status->add_flag("--no-pretty", no_pretty, "No tree drawing");
    status->add_flag("--no-ghost", no_ghost, "Do not show presumed state behind lost/offline brokers");
    uint32_t child = 0;
    auto* parentof = app.add_subcommand("parentof", "Show the parent of RANK");
    parentof->add_option("rank", child, "Rank")->required();
    parse_or_exit(app, argc, argv, CMD);

    auto h = open_or_die(CMD);
    auto size_r = h->size();
    if (!size_r)
        die(CMD, size_r.error().message());
    uint32_t size = *size_r;
    auto fanout_s = h->getattr("tbon.fanout");
    uint32_t fanout = fanout_s ? static_cast<uint32_t>(std::strtoul(fanout_s->c_str(), nullptr, 10)) : 2;
    if (fanout == 0)
        fanout = 2;
    if (parentof->parsed()) {
        if (child == 0 || child >= size)
            die(CMD, fmt::format("rank {} has no parent in an instance of size {}", child, size));
        fmt::print("{}\n", (child - 1) / fanout);
        return 0;
    }
    if (rank >= size)
        die(CMD, fmt::format("rank {} is not in this instance (size {})", rank, size));
    auto t = parse_fsd(timeout_s);
    if (!t)
        die(CMD, t.error().message());
    double timeout = *t > 0 ? *t : -1;
    Node root = probe(*h, rank, "", timeout, fanout, size, !no_ghost);
    if (summary) {
        fmt::print("{} {}: {}\n", root.rank, root.host, root.status);
        return 0;
    }
    print_tree(root, "", true, true, !no_pretty);
    return 0;
}

}  // namespace flux::cmd
