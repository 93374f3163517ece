// flux job (submit, attach, status, wait, kill, cancel, raise, urgency,
// eventlog, wait-event, info, id, last) and flux cancel.
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/idset.hpp>
#include <flux/jobid.hpp>
#include <flux/yaml.hpp>

#include "attach.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {

JobId id_or_die(const std::string& s, std::string_view cmd = "job")
{
    auto id = parse_jobid(s);
    if (!id)
        die(cmd, fmt::format("invalid jobid: {}", s));
    return *id;
}

std::string f58(JobId id)
{
    return encode_jobid(id, JobIdEncoding::f58);
}

Result<std::string> read_all(const std::string& path)
{
    if (path == "-") {
        std::stringstream ss;
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream in(path);
    if (!in)
        return fail(ENOENT, fmt::format("{}: {}", path, strerror(errno)));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int job_submit(int argc, char** argv)
{
    CLI::App app{"Submit a jobspec (JSON or YAML)", "flux job submit"};
    std::string file = "-", flags_s;
    int urgency = 16;
    app.add_option("jobspec", file, "Jobspec file, or - for stdin");
    app.add_option("-u,--urgency", urgency, "Job urgency (0-31)");
    app.add_option("-f,--flags", flags_s, "Submit flags (waitable, debug, novalidate)");
    parse_or_exit(app, argc, argv, "job");
    auto text = read_all(file);
    if (!text)
        die("job", text.error().message());
    json js = json::parse(*text, nullptr, false);
    if (js.is_discarded()) {
        auto y = parse_yaml(*text);
        if (!y)
            die("job", fmt::format("{}: not valid JSON or YAML: {}", file, y.error().message()));
        js = std::move(*y);
    }
    if (!js.is_object())
        die("job", fmt::format("{}: a jobspec must be an object", file));
    int flags = 0;
    std::stringstream fs(flags_s);
    std::string f;
    while (std::getline(fs, f, ','))
        flags |= f == "waitable" ? 2 : f == "debug" ? 1 : f == "novalidate" ? 4 : (die("job", "unknown flag " + f), 0);
    auto h = open_or_die("job");
    auto r = h->rpc("job-ingest.submit", json{{"jobspec", js}, {"urgency", urgency}, {"flags", flags}}.dump()).get();
    if (!r)
        die("job", r.error().message());
    fmt::print("{}\n", f58(json::parse(r->payload).at("id").get<JobId>()));
    return 0;
}

int job_attach(int argc, char** argv)
{
    CLI::App app{"Attach to a job", "flux job attach"};
    std::string id;
    AttachOptions o;
    app.add_option("jobid", id)->required();
    app.add_flag("-l,--label-io", o.label, "Label output by rank");
    app.add_flag("-E,--show-events", o.show_events, "Show job events on stderr");
    app.add_flag("-r,--read-only", o.read_only, "Do not forward signals");
    app.add_option("-w,--wait-event", o.wait_event, "Wait for EVENT instead of the end of the job");
    app.add_option("-i,--stdin-ranks", o.stdin_ranks, "Send stdin to only these task ranks (default: all)");
    parse_or_exit(app, argc, argv, "job");
    if (o.stdin_ranks != "all" && !IdSet::parse(o.stdin_ranks))
        die("job", fmt::format("invalid --stdin-ranks '{}'", o.stdin_ranks));
    // Forward stdin from a terminal (reattaching to an interactive job); a
    // script's stdin is left alone unless --stdin-ranks asks for it.
    o.forward_stdin = !o.read_only && (isatty(0) || o.stdin_ranks != "all");
    auto h = open_or_die("job");
    return attach(*h, id_or_die(id), o);
}

int job_status(int argc, char** argv)
{
    CLI::App app{"Wait for jobs to finish; exit with the largest exit code", "flux job status"};
    std::vector<std::string> ids;
    bool verbose = false;
    app.add_option("jobids", ids)->required();
    app.add_flag("-v,--verbose", verbose, "Print each job's exit code");
    parse_or_exit(app, argc, argv, "job");
    auto h = open_or_die("job");
    int rc = 0;
    for (const auto& s : ids) {
        AttachOptions o;
        o.read_only = true;
        o.quiet_output = true;
        int code = attach(*h, id_or_die(s), o);
        if (verbose)
            fmt::print(stderr, "{}: exit code {}\n", s, code);
        rc = std::max(rc, code);
    }
    return rc;
}

int job_wait(int argc, char** argv)
{
    CLI::App app{"Wait for a waitable job to complete", "flux job wait"};
    std::string id;
    bool all = false, verbose = false;
    app.add_option("jobid", id);
    app.add_flag("-a,--all", all, "Wait for all waitable jobs");
    app.add_flag("-v,--verbose", verbose, "Report each job");
    parse_or_exit(app, argc, argv, "job");
    auto h = open_or_die("job");
    JobId jid = id.empty() ? 0 : id_or_die(id);
    int rc = 0;
    while (true) {
        auto r = h->rpc("job-manager.wait", json{{"id", jid}}.dump()).get();
        if (!r) {
            if (r.error().errnum == ECHILD && (all || jid == 0) && rc >= 0) {
                if (all)
                    return rc;
            }
            die("job", fmt::format("{}", r.error().message()), 2);
        }
        json j = json::parse(r->payload);
        JobId got = j.at("id").get<JobId>();
        bool ok = j.value("success", false);
        if (!ok) {
            errorf("job", fmt::format("{}: {}", f58(got), j.value("errstr", "")));
            rc = 1;
        } else if (verbose) {
            fmt::print(stderr, "{}: job completed successfully\n", f58(got));
        }
        if (!all)
            return rc;
    }
}

int job_kill(int argc, char** argv)
{
    CLI::App app{"Send a signal to running jobs", "flux job kill"};
    std::vector<std::string> ids;
    std::string sig = "SIGTERM";
    app.add_option("-s,--signal", sig, "Signal name or number (default SIGTERM)");
    app.add_option("jobids", ids)->required();
    parse_or_exit(app, argc, argv, "job");
    int signum = 0;
    if (!sig.empty() && std::isdigit(static_cast<unsigned char>(sig[0]))) {
        signum = std::atoi(sig.c_str());
    } else {
        std::string name = sig.starts_with("SIG") ? sig.substr(3) : sig;
        for (int s = 1; s < NSIG; s++) {
            const char* abbrev = sigabbrev_np(s);
            if (abbrev && name == abbrev)
                signum = s;
        }
    }
    if (signum <= 0 || signum >= NSIG)
        die("job", fmt::format("kill: invalid signal {}", sig));
    auto h = open_or_die("job");
    int rc = 0;
    for (const auto& s : ids) {
        auto r = h->rpc("job-manager.kill", json{{"id", id_or_die(s)}, {"signum", signum}}.dump()).get();
        if (!r) {
            errorf("job", fmt::format("kill {}: {}", s, r.error().message()));
            rc = 1;
        }
    }
    return rc;
}

int raise_all(Handle& h, const std::vector<std::string>& ids, const std::string& type, int severity,
              const std::string& note, std::string_view cmd)
{
    int rc = 0;
    std::vector<Future> fs;
    for (const auto& s : ids)
        fs.push_back(
            h.rpc("job-manager.raise",
                  json{{"id", id_or_die(s, cmd)}, {"type", type}, {"severity", severity}, {"note", note}}.dump()));
    for (std::size_t i = 0; i < fs.size(); i++) {
        auto r = fs[i].get();
        if (!r) {
            errorf(cmd, fmt::format("{}: {}", ids[i], r.error().message()));
            rc = 1;
        }
    }
    return rc;
}

int job_raise(int argc, char** argv)
{
    CLI::App app{"Raise an exception on jobs", "flux job raise"};
    std::vector<std::string> ids;
    std::string type = "cancel";
    int severity = 0;
    std::vector<std::string> words;
    app.add_option("-t,--type", type, "Exception type (default: cancel)");
    app.add_option("-s,--severity", severity, "Severity 0-7 (default 0: fatal)");
    app.add_option("jobid", ids)->required()->expected(1);
    app.add_option("message", words);
    parse_or_exit(app, argc, argv, "job");
    std::string note;
    for (const auto& w : words)
        note += (note.empty() ? "" : " ") + w;
    auto h = open_or_die("job");
    return raise_all(*h, ids, type, severity, note, "job");
}

int job_urgency(int argc, char** argv)
{
    CLI::App app{"Change the urgency of a pending job", "flux job urgency"};
    std::string id, value;
    bool verbose = false;
    app.add_option("jobid", id)->required();
    app.add_option("urgency", value, "0-31, hold, default or expedite")->required();
    app.add_flag("-v,--verbose", verbose, "Print the old urgency");
    parse_or_exit(app, argc, argv, "job");
    int urg;
    if (value == "hold")
        urg = 0;
    else if (value == "default")
        urg = 16;
    else if (value == "expedite")
        urg = 31;
    else {
        char* end = nullptr;
        long v = std::strtol(value.c_str(), &end, 10);
        if (!end || *end || value.empty())
            die("job", fmt::format("urgency: invalid value '{}'", value));
        urg = static_cast<int>(v);
    }
    auto h = open_or_die("job");
    auto r = h->rpc("job-manager.urgency", json{{"id", id_or_die(id)}, {"urgency", urg}}.dump()).get();
    if (!r)
        die("job", fmt::format("urgency: {}", r.error().message()));
    if (verbose)
        fmt::print("{}: urgency changed from {} to {}\n", id, json::parse(r->payload).value("old_urgency", 0), urg);
    return 0;
}

std::string context_text(const nlohmann::ordered_json& ctx)
{
    std::string out;
    if (!ctx.is_object())
        return out;
    for (auto it = ctx.begin(); it != ctx.end(); ++it)
        out += fmt::format(" {}={}", it.key(), it->dump());
    return out;
}

// Entries keep their context keys in the order they were written.
void print_entry(const nlohmann::ordered_json& e, const std::string& format)
{
    if (format == "json") {
        fmt::print("{}\n", e.dump());
        return;
    }
    fmt::print("{:.6f} {}{}\n", e.value("timestamp", 0.0), e.value("name", ""),
               context_text(e.value("context", nlohmann::ordered_json::object())));
}

int job_eventlog(int argc, char** argv)
{
    CLI::App app{"Display a job's eventlog", "flux job eventlog"};
    std::string id, path = "eventlog", format = "text";
    bool follow = false;
    app.add_option("jobid", id)->required();
    app.add_option("-p,--path", path, "Eventlog path (eventlog, guest.output, guest.exec.eventlog)");
    app.add_option("-f,--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("-F,--follow", follow, "Keep printing events until the job is inactive");
    parse_or_exit(app, argc, argv, "job");
    auto h = open_or_die("job");
    JobId jid = id_or_die(id);
    if (!follow) {
        auto r = h->rpc("job-info.lookup", json{{"id", jid}, {"keys", {path}}}.dump()).get();
        if (!r)
            die("job", fmt::format("{}: {}", id, r.error().message()));
        std::string text = json::parse(r->payload).at(path).get<std::string>();
        std::stringstream ss(text);
        std::string line;
        while (std::getline(ss, line))
            if (!line.empty())
                print_entry(nlohmann::ordered_json::parse(line), format);
        return 0;
    }
    Future f =
        h->rpc("job-info.eventlog-watch", json{{"id", jid}, {"path", path}}.dump(), NODEID_ANY, msgflag::streaming);
    while (true) {
        auto r = f.get();
        f.reset();
        if (!r) {
            if (r.error().errnum == ENODATA)
                return 0;
            die("job", fmt::format("{}: {}", id, r.error().message()));
        }
        print_entry(nlohmann::ordered_json::parse(r->payload).at("event"), format);
        fflush(stdout);
    }
}

int job_wait_event(int argc, char** argv)
{
    CLI::App app{"Wait for an event in a job's eventlog", "flux job wait-event"};
    std::string id, event, path = "eventlog", format = "text", match;
    double timeout = -1;
    bool quiet = false, verbose = false;
    app.add_option("jobid", id)->required();
    app.add_option("event", event)->required();
    app.add_option("-p,--path", path, "Eventlog path");
    app.add_option("-f,--format", format, "text or json");
    app.add_option("-t,--timeout", timeout, "Give up after this many seconds");
    app.add_option("-m,--match-context", match, "Match KEY=VAL in the event context");
    app.add_flag("-q,--quiet", quiet, "Do not print the event");
    app.add_flag("-v,--verbose", verbose, "Print every event until the match");
    parse_or_exit(app, argc, argv, "job");
    auto h = open_or_die("job");
    JobId jid = id_or_die(id);
    std::string mkey, mval;
    if (!match.empty()) {
        auto eq = match.find('=');
        if (eq == std::string::npos)
            die("job", "--match-context: expected KEY=VAL");
        mkey = match.substr(0, eq);
        mval = match.substr(eq + 1);
    }
    Future f =
        h->rpc("job-info.eventlog-watch", json{{"id", jid}, {"path", path}}.dump(), NODEID_ANY, msgflag::streaming);
    while (true) {
        auto r = f.get(timeout);
        f.reset();
        if (!r) {
            if (r.error().errnum == ETIMEDOUT)
                die("job", "wait-event timeout on event '" + event + "'");
            if (r.error().errnum == ENODATA)
                die("job", fmt::format("eventlog ended before event '{}'", event));
            die("job", fmt::format("{}: {}", id, r.error().message()));
        }
        auto e = nlohmann::ordered_json::parse(r->payload).at("event");
        bool hit = e.value("name", "") == event;
        if (hit && !mkey.empty()) {
            auto ctx = e.value("context", nlohmann::ordered_json::object());
            hit = ctx.contains(mkey) &&
                  (ctx[mkey].is_string() ? ctx[mkey].get<std::string>() == mval : ctx[mkey].dump() == mval);
        }
        if ((hit && !quiet) || verbose)
            print_entry(e, format);
        if (hit)
            return 0;
    }
}

int job_info(int argc, char** argv)
{
    CLI::App app{"Display job information (jobspec, R, eventlog, guest.output)", "flux job info"};
    std::string id;
    std::vector<std::string> keys;
    app.add_option("jobid", id)->required();
    app.add_option("keys", keys)->required();
    parse_or_exit(app, argc, argv, "job");
    auto h = open_or_die("job");
    auto r = h->rpc("job-info.lookup", json{{"id", id_or_die(id)}, {"keys", keys}}.dump()).get();
    if (!r)
        die("job", fmt::format("{}: {}", id, r.error().message()));
    json j = json::parse(r->payload);
    for (const auto& k : keys) {
        const json& v = j.at(k);
        if (v.is_string())
            fmt::print("{}", v.get<std::string>());
        else
            fmt::print("{}\n", v.dump());
    }
    return 0;
}

int job_id(int argc, char** argv)
{
    CLI::App app{"Convert job ids between encodings", "flux job id"};
    std::vector<std::string> ids;
    std::string to = "dec";
    app.add_option("-t,--to", to, "dec, hex, kvs, dothex, words, f58, f58plain");
    app.add_option("jobids", ids);
    parse_or_exit(app, argc, argv, "job");
    auto enc = parse_jobid_encoding(to);
    if (!enc)
        die("job", fmt::format("id: unknown encoding '{}'", to));
    if (ids.empty()) {
        std::string line;
        while (std::getline(std::cin, line))
            if (!line.empty())
                ids.push_back(line);
    }
    for (const auto& s : ids)
        fmt::print("{}\n", encode_jobid(id_or_die(s), *enc));
    return 0;
}

int job_last(int argc, char** argv)
{
    CLI::App app{"Print the most recently submitted job id(s)", "flux job last"};
    int n = 1;
    app.add_option("N", n, "How many (default 1)");
    parse_or_exit(app, argc, argv, "job");
    auto h = open_or_die("job");
    if (n < 1)
        die("job", "N must be at least 1");
    // Submission order is id order (ids grow with submission time); job-list
    // lists pending, running and inactive jobs apart, so sort here.
    auto r = h->rpc("job-list.list",
                    R"({"max_entries":0,"attrs":["id"],"constraint":{"userid":[)" + std::to_string(getuid()) + "]}}")
                 .get();
    if (!r)
        die("job", r.error().message());
    std::vector<JobId> ids;
    json resp = json::parse(r->payload);  // outlives the loop
    for (const auto& j : resp.at("jobs"))
        ids.push_back(j.at("id").get<JobId>());
    if (ids.empty())
        die("job", "no jobs found");
    std::size_t k = std::min(ids.size(), static_cast<std::size_t>(n));
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), std::greater<>());
    for (std::size_t i = 0; i < k; i++)
        fmt::print("{}\n", f58(ids[i]));
    return 0;
}

}  // namespace

int job(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    static const struct {
        const char* name;
        int (*fn)(int, char**);
        const char* help;
    } subs[] = {
        {"submit", job_submit, "Submit a jobspec"},
        {"attach", job_attach, "Attach to a job's output"},
        {"status", job_status, "Wait for jobs and report their exit codes"},
        {"wait", job_wait, "Wait for waitable jobs"},
        {"kill", job_kill, "Signal running jobs"},
        {"raise", job_raise, "Raise an exception on a job"},
        {"urgency", job_urgency, "Change a job's urgency"},
        {"eventlog", job_eventlog, "Print a job's eventlog"},
        {"wait-event", job_wait_event, "Wait for a job event"},
        {"info", job_info, "Print jobspec, R or eventlogs of a job"},
        {"id", job_id, "Convert job ids"},
        {"last", job_last, "Print the last job id(s) submitted"},
    };
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        fmt::print("Usage: flux job COMMAND [OPTIONS]\n\nCommands:\n");
        for (const auto& s : subs)
            fmt::print("  {:<12} {}\n", s.name, s.help);
        return argc < 2 ? 1 : 0;
    }
    std::string sub = argv[1];
    if (sub == "cancel") {
        std::vector<std::string> ids;
        std::string msg;
        for (int i = 2; i < argc; i++)
            ids.push_back(argv[i]);
        if (ids.empty())
            die("job", "cancel: a job id is required");
        auto h = open_or_die("job");
        return raise_all(*h, {ids[0]}, "cancel", 0, "", "job");
    }
    for (const auto& s : subs)
        if (sub == s.name)
            return s.fn(argc - 1, argv + 1);
    die("job", fmt::format("unknown command '{}'", sub));
}

int cancel(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Cancel one or more jobs", "flux cancel"};
    std::vector<std::string> ids;
    std::string message, user, states;
    bool all = false, dry_run = false, quiet = false;
    app.add_option("jobids", ids);
    app.add_option("-m,--message", message, "Add a message to the cancel exception");
    app.add_flag("--all", all, "Cancel all jobs of the current user (or -u USER)");
    app.add_option("-u,--user", user, "With --all: the user whose jobs to cancel ('all' for everyone)");
    app.add_option("-S,--states", states, "With --all: states to cancel (default: pending,running)");
    app.add_flag("-n,--dry-run", dry_run, "Print how many jobs would be canceled");
    app.add_flag("-q,--quiet", quiet, "Print nothing about the count");
    parse_or_exit(app, argc, argv, "cancel");
    if (all == !ids.empty())
        die("cancel", all ? "do not give job ids with --all" : "give job ids or --all");
    auto h = open_or_die("cancel");
    if (!all)
        return raise_all(*h, ids, "cancel", 0, message, "cancel");
    std::int64_t uid = getuid();
    if (user == "all")
        uid = -1;
    else if (!user.empty())
        uid = std::atoll(user.c_str());
    json req{{"type", "cancel"}, {"severity", 0}, {"note", message}, {"userid", uid}, {"dry_run", dry_run}};
    if (!states.empty())
        req["states"] = states;
    auto r = h->rpc("job-manager.raiseall", req.dump()).get();
    if (!r)
        die("cancel", r.error().message());
    int count = json::parse(r->payload).value("count", 0);
    if (!quiet)
        fmt::print(stderr, "flux-cancel: {} {} job{}\n", dry_run ? "Would cancel" : "Canceled", count,
                   count == 1 ? "" : "s");
    return 0;
}

int queue(int argc, char** argv)
{
    CLI::App app{"Manage the job queue", "flux queue"};
    app.require_subcommand(1);
    std::string message;
    double timeout = -1;
    bool verbose = false, quiet = false, all_queues = false;
    auto* stop = app.add_subcommand("stop", "Stop scheduling (jobs may still be submitted)");
    auto* start = app.add_subcommand("start", "Start scheduling");
    auto* disable = app.add_subcommand("disable", "Refuse new submissions");
    auto* enable = app.add_subcommand("enable", "Accept new submissions");
    auto* status = app.add_subcommand("status", "Show queue status");
    auto* drain = app.add_subcommand("drain", "Wait until there are no active jobs");
    auto* idle = app.add_subcommand("idle", "Wait until no jobs are running");
    for (auto* s : {stop, disable})
        s->add_option("-m,--message,message", message, "Reason");
    for (auto* s : {drain, idle})
        s->add_option("-t,--timeout", timeout, "Give up after this many seconds");
    status->add_flag("-v,--verbose", verbose, "Show job counts");
    idle->add_flag("-q,--quiet", quiet, "Do not print the pending count");
    for (auto* s : {stop, start, disable, enable})
        s->add_flag("-a,--all", all_queues, "All queues (there is one)");
    parse_or_exit(app, argc, argv, "queue");
    auto h = open_or_die("queue");
    auto call = [&](const char* topic, json payload, double t = -1) {
        auto r = h->rpc(topic, payload.dump()).get(t);
        if (!r) {
            if (r.error().errnum == ETIMEDOUT)
                die("queue", "timeout");
            die("queue", r.error().message());
        }
        return json::parse(r->payload.empty() ? "{}" : r->payload);
    };
    if (*stop)
        call("job-manager.queue-start", {{"start", false}, {"reason", message}});
    else if (*start)
        call("job-manager.queue-start", {{"start", true}});
    else if (*disable)
        call("job-manager.queue-enable", {{"enable", false}, {"reason", message}});
    else if (*enable)
        call("job-manager.queue-enable", {{"enable", true}});
    else if (*drain)
        call("job-manager.queue-drain", json::object(), timeout);
    else if (*idle) {
        json r = call("job-manager.queue-idle", json::object(), timeout);
        if (!quiet && r.value("pending", 0) > 0)
            fmt::print("{} pending jobs\n", r.value("pending", 0));
    } else if (*status) {
        json r = call("job-manager.queue-status", json::object());
        if (r.value("enable", true))
            fmt::print("Job submission is enabled\n");
        else
            fmt::print("Job submission is disabled: {}\n", r.value("disable_reason", ""));
        if (r.value("start", true))
            fmt::print("Scheduling is started\n");
        else if (!r.value("stop_reason", "").empty())
            fmt::print("Scheduling is stopped: {}\n", r.value("stop_reason", ""));
        else
            fmt::print("Scheduling is stopped\n");
        if (verbose)
            fmt::print("{} pending, {} running\n", r.value("pending", 0), r.value("running", 0));
    }
    return 0;
}

}  // namespace flux::cmd
