// flux dmesg: print, follow or clear the broker's log ring.
#include <time.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {

const char* level_name(int l)
{
    static const char* names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    return l >= 0 && l <= 7 ? names[l] : "?";
}

void print_entry(const json& e)
{
    double ts = e.value("timestamp", 0.0);
    time_t secs = static_cast<time_t>(ts);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    int usec = static_cast<int>((ts - static_cast<double>(secs)) * 1e6);
    fmt::print("{}.{:06d}Z {}.{}[{}]: {}\n", buf, usec, e.value("name", "?"), level_name(e.value("level", 6)),
               e.value("rank", 0), e.value("message", ""));
}

}  // namespace

int dmesg(int argc, char** argv)
{
    bool clear_after = false, clear_only = false, follow = false;
    CLI::App app{"Print or control the broker log ring", "flux dmesg"};
    app.add_flag("-c,--read-clear", clear_after, "Clear the ring after printing it");
    app.add_flag("-C,--clear", clear_only, "Clear the ring without printing");
    app.add_flag("-f,--follow", follow, "Keep printing new entries");
    parse_or_exit(app, argc, argv, "dmesg");
    auto h = open_or_die("dmesg");
    if (!clear_only) {
        auto f = h->rpc("log.dmesg", json{{"follow", follow}}.dump(), NODEID_ANY, msgflag::streaming);
        for (;;) {
            auto r = f.get();
            if (!r) {
                if (r.error().errnum == ENODATA)
                    break;
                die("dmesg", r.error().message());
            }
            try {
                print_entry(json::parse(r->payload));
            } catch (const std::exception& e) {
                die("dmesg", fmt::format("bad log entry: {}", e.what()));
            }
            std::fflush(stdout);
            f.reset();
        }
    }
    if (clear_after || clear_only) {
        auto r = h->rpc("log.clear", "{}").get();
        if (!r)
            die("dmesg", r.error().message());
    }
    return 0;
}

int logger(int argc, char** argv)
{
    std::string severity = "notice";
    std::string appname = "logger";
    std::vector<std::string> words;
    CLI::App app{"Log a message to the broker log ring", "flux logger"};
    app.add_option("-s,--severity", severity, "Severity: emerg alert crit err warning notice info debug");
    app.add_option("-n,--appname", appname, "Name to log under");
    app.add_option("message", words, "The message")->required();
    parse_or_exit(app, argc, argv, "logger");
    int level = -1;
    for (int i = 0; i <= 7; i++)
        if (severity == level_name(i) || severity == std::to_string(i))
            level = i;
    if (level < 0)
        die("logger", fmt::format("invalid severity '{}'", severity));
    auto h = open_or_die("logger");
    std::string msg = fmt::format("{}", fmt::join(words, " "));
    h->rpc("log.append", json{{"level", level}, {"message", msg}, {"name", appname}}.dump(), NODEID_ANY,
           msgflag::noresponse);
    return 0;
}

}  // namespace flux::cmd
