// flux jobs: list jobs from the job-list service, with flux-core's
// options, default columns and -o field names (flux-jobs(1)).
#include <time.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <pwd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/hostlist.hpp>
#include <flux/idset.hpp>
#include <flux/clock.hpp>
#include <flux/jobid.hpp>
#include <flux/jobspec.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "format.hpp"
#include "jobinfo.hpp"

namespace flux::cmd {

using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* CMD = "jobs";

// flux-jobs.py FluxJobsConfig.builtin_formats
struct NamedFormat {
    const char* name;
    const char* description;
    const char* format;
};
const NamedFormat builtin_formats[] = {
    {"default", "Default flux-jobs format string",
     "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} {status_abbrev:>2.2} {ntasks:>6} {nnodes:>6h} "
     "{contextual_time!F:>8h} {contextual_info}"},
    {"cute", "Cute flux-jobs format string (default with emojis)",
     "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} {status_emoji:>5.5} {ntasks:>6} {nnodes:>6h} "
     "{contextual_time!F:>8h} {contextual_info}"},
    {"long", "Extended flux-jobs format string",
     "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} {status:>9.9} {ntasks:>6} {nnodes:>6h} "
     "{t_submit!d:%b%d %R::>12} {t_remaining!F:>12h} {contextual_time!F:>8h} {contextual_info}"},
    {"deps", "Show job urgency, priority, and dependencies",
     "{id.f58:>12} ?:{queue:<8.8} {name:<10.10+} {urgency:<3} {priority:<12} {state:<8.8} {dependencies}"},
    {"endreason", "Show why each job ended",
     "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} {status_abbrev:>2.2} "
     "{t_inactive!d:%b%d %R::>12h} {inactive_reason}"},
};

[[noreturn]] void py_error(const std::string& msg, int code = 1)
{
    fmt::print(stderr, "flux-jobs: ERROR: {}\n", msg);
    std::exit(code);
}

void py_warning(const std::string& msg)
{
    fmt::print(stderr, "flux-jobs: WARNING: {}\n", msg);
}

// UtilConfig.get_format_string() for the built-in formats.
std::string format_string(std::string name)
{
    if (name.find('{') != std::string::npos)
        return name;
    if (name == "help") {
        fmt::print("\nConfigured flux-jobs output formats:\n\n");
        for (const auto& f : builtin_formats)
            fmt::print("  {:<12} {}\n", f.name, f.description);
        std::exit(0);
    }
    if (name.starts_with("get-config=")) {
        std::string n = name.substr(11);
        for (const auto& f : builtin_formats) {
            if (n == f.name) {
                fmt::print("[formats.{}]\ndescription = \"{}\"\nformat = \"{}\"\n", f.name, f.description, f.format);
                std::exit(0);
            }
        }
        py_error(fmt::format("--format: No such format {}", n));
    }
    if (name == "default") {
        if (const char* env = getenv("FLUX_JOBS_FORMAT_DEFAULT")) {
            name = env;
            if (name.find('{') != std::string::npos)
                return name;
        }
    }
    for (const auto& f : builtin_formats)
        if (name == f.name)
            return f.format;
    py_error(fmt::format("--format: No such format {}", name));
}

// flux.util.parse_datetime() for the forms people use, then float().
Result<double> parse_since(const std::string& s, double now)
{
    if (s == "now")
        return now;
    if (s.starts_with("+") || s.starts_with("-")) {
        auto d = job::parse_duration(s.substr(1));
        if (d)
            return s[0] == '+' ? now + *d : now - *d;
    }
    static const char* forms[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
                                  "%Y-%m-%d",          "%H:%M:%S",          "%H:%M"};
    for (const char* f : forms) {
        time_t t = static_cast<time_t>(now);
        struct tm tm;
        localtime_r(&t, &tm);
        if (std::string_view(f).starts_with("%H"))
            tm.tm_sec = 0;
        else
            tm = {};
        const char* end = strptime(s.c_str(), f, &tm);
        if (end && *end == '\0') {
            tm.tm_isdst = -1;
            return static_cast<double>(mktime(&tm));
        }
    }
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0')
        return fail(EINVAL, fmt::format("could not convert string to float: '{}'", s));
    return v;
}

// JobList.set_user(): "all", a user name or a uid.
std::int64_t parse_user(const std::string& user)
{
    if (user == "all")
        return USERID_UNKNOWN;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof(buf), &res) == 0 && res)
        return res->pw_uid;
    char* end = nullptr;
    long long v = std::strtoll(user.c_str(), &end, 10);
    if (user.empty() || *end != '\0')
        py_error(fmt::format("Invalid user {} specified", user));
    return v;
}

struct Options {
    bool a = false, A = false, no_header = false, json = false, stats = false, stats_only = false;
    bool from_stdin = false, filtered = false, filtered_user = false;
    bool recursive = false, recurse_all = false;
    int count = 1000, level = -1;
    std::vector<std::string> filter, queue, jobids;
    std::string since, user, name, include, format = "default", sort, color = "auto";
};

struct Fetched {
    std::vector<JobInfo> jobs;
    bool truncated = false;
    std::size_t unknown = 0;  // ids asked for that could not be listed
};

std::vector<JobInfo> parse_jobs(const ojson& arr)
{
    std::vector<JobInfo> out;
    if (!arr.is_array())
        return out;
    for (const auto& j : arr)
        if (auto info = JobInfo::from_json(j))
            out.push_back(std::move(*info));
    return out;
}

Fetched fetch_jobs(Handle& h, Options& o, const std::vector<std::string>& fields, double now)
{
    auto attrs = job_fields_to_attrs(fields);
    if (o.recursive) {  // which jobs are instances of ours, and where
        attrs.insert({"annotations", "userid", "state"});
    }
    if (o.color == "always" || o.color == "auto") {
        attrs.insert("result");
        attrs.insert("annotations");
    }
    if (o.json) {
        o.no_header = true;
        attrs.insert("all");
    }
    ojson attr_list = ojson::array();
    for (const auto& a : attrs)
        attr_list.push_back(a);

    std::int64_t userid = o.user.empty() ? static_cast<std::int64_t>(getuid()) : parse_user(o.user);
    if (o.A)
        userid = USERID_UNKNOWN;

    double since = 0;
    if (!o.since.empty()) {
        if (o.filter.empty())
            o.a = true;
        auto s = parse_since(o.since, now);
        if (!s)
            py_error(s.error().message());
        since = *s;
        if (since > wall_time())
            py_error(fmt::format("--since={} appears to be in the future", o.since));
    }
    if (o.a) {
        if (!o.filter.empty())
            py_warning("Both -a and --filter specified, ignoring -a");
        else
            o.filter = {"pending", "running", "inactive"};
    }
    if (o.filter.empty())
        o.filter = {"pending", "running"};

    ojson include = nullptr;
    if (!o.include.empty()) {
        if (auto ids = IdSet::parse(o.include))
            include = {{"ranks", {ids->encode()}}};
        else if (auto hl = Hostlist::parse(o.include))
            include = {{"hostlist", {hl->encode()}}};
        else
            py_error(fmt::format("-i/--include: invalid targets: {}", o.include));
        if (!o.filtered_user)
            userid = USERID_UNKNOWN;
    }
    int max_entries = o.count > 0 ? o.count + 1 : o.count;

    Fetched out;
    if (!o.jobids.empty()) {
        out.jobs = fetch_jobs_by_id(h, o.jobids, attr_list, &out.unknown);
        return out;
    }

    std::uint32_t states = 0, results = 0;
    for (const auto& f : split_commas(o.filter))
        if (!add_filter(f, states, results))
            py_error(fmt::format("Invalid filter specified: {}", f));
    ojson all = ojson::array();
    if (userid != USERID_UNKNOWN)
        all.push_back({{"userid", {userid}}});
    if (!o.name.empty())
        all.push_back({{"name", {o.name}}});
    auto queues = split_commas(o.queue);
    if (!queues.empty())
        all.push_back({{"queue", queues}});
    add_state_constraint(all, states, results);
    if (!include.is_null())
        all.push_back(include);
    ojson req{{"max_entries", max_entries}, {"attrs", attr_list}, {"since", since}, {"constraint", {{"and", all}}}};
    auto r = h.rpc("job-list.list", req.dump()).get();
    if (!r)
        py_error(r.error().message());
    ojson resp = ojson::parse(r->payload, nullptr, false);
    if (!resp.is_object() || !resp.contains("jobs"))
        py_error("job-list.list: malformed response");
    out.jobs = parse_jobs(resp["jobs"]);
    if (o.count > 0 && out.jobs.size() > static_cast<size_t>(o.count)) {
        out.jobs.pop_back();
        out.truncated = true;
    }
    return out;
}

// JobStats: job-list.job-stats, summed over --queue when given.
struct Stats {
    long long depend = 0, priority = 0, sched = 0, run = 0, cleanup = 0, inactive = 0, total = 0;
    long long successful = 0, failed = 0, timeout = 0, canceled = 0, inactive_purged = 0;
    long long pending() const { return depend + priority + sched; }
    long long running() const { return run + cleanup; }
    long long active() const { return total - inactive; }
};

Stats get_stats(Handle& h, const std::vector<std::string>& queues)
{
    auto r = h.rpc("job-list.job-stats", "{}").get();
    if (!r)
        py_error(fmt::format("error retrieving job stats: {}", r.error().message()));
    ojson resp = ojson::parse(r->payload, nullptr, false);
    Stats s;
    auto add = [&](const ojson& o) {
        const ojson& js = o.at("job_states");
        s.depend += js.value("depend", 0LL);
        s.priority += js.value("priority", 0LL);
        s.sched += js.value("sched", 0LL);
        s.run += js.value("run", 0LL);
        s.cleanup += js.value("cleanup", 0LL);
        s.inactive += js.value("inactive", 0LL);
        s.total += js.value("total", 0LL);
        s.successful += o.value("successful", 0LL);
        s.failed += o.value("failed", 0LL);
        s.timeout += o.value("timeout", 0LL);
        s.canceled += o.value("canceled", 0LL);
        s.inactive_purged += o.value("inactive_purged", 0LL);
    };
    try {
        if (queues.empty()) {
            add(resp);
        } else {
            for (const auto& q : queues) {
                bool found = false;
                for (const auto& e : resp.at("queues")) {
                    if (e.value("name", "") == q) {
                        add(e);
                        found = true;
                    }
                }
                if (!found)
                    py_error(fmt::format("error retrieving job stats: no stats available for queue {}", q));
            }
        }
    } catch (const std::exception& e) {
        py_error(fmt::format("error retrieving job stats: {}", e.what()));
    }
    // JobStats reports every unsuccessful job as failed.
    s.failed += s.timeout + s.canceled;
    return s;
}

// Print the jobs of the instance `h` reaches (and with -R, of the running
// instances among them, below their job id path).
int list_jobs(Handle* h, Options& o, OutputFormat& formatter, const std::string& path, int level)
{
    if (o.stats || o.stats_only) {
        Stats s = get_stats(*h, split_commas(o.queue));
        fmt::print("{} running, {} completed, {} failed, {} pending, {} inactive purged\n", s.running(), s.successful,
                   s.failed, s.pending(), s.inactive_purged);
        std::fflush(stdout);
        if (o.stats_only)
            return s.active() ? 0 : 1;
    }
    std::vector<std::string> fields = formatter.fields();
    for (const auto& [k, rev] : formatter.sort_keys())
        fields.push_back(k);

    double now = wall_time();
    Fetched got;
    if (o.from_stdin && level == 0) {
        // Testing aid, as flux-core's: one job-list job object per line.
        std::string line;
        int lineno = 0;
        while (std::getline(std::cin, line)) {
            lineno++;
            ojson j = ojson::parse(line, nullptr, false);
            auto info = j.is_discarded() ? Result<JobInfo>(fail(EINVAL)) : JobInfo::from_json(j);
            if (!info)
                py_error(fmt::format("JSON input error: line {}: invalid job object", lineno));
            got.jobs.push_back(std::move(*info));
        }
    } else {
        got = fetch_jobs(*h, o, fields, now);
    }

    // Sort (stable, by key), then resolve ?: and +: over the rows printed.
    std::vector<Row> rows;
    for (size_t i = 0; i < got.jobs.size(); i++) {
        Row r = job_row(got.jobs[i], fields, now);
        r["\x01index"] = static_cast<long long>(i);
        for (const auto& [k, rev] : formatter.sort_keys())
            if (k == "id" || k.starts_with("id."))
                r[k] = static_cast<long long>(got.jobs[i].id);  // ids sort as numbers
        rows.push_back(std::move(r));
    }
    formatter.sort(rows);
    std::vector<Row> display;
    std::vector<const JobInfo*> order;
    for (const auto& r : rows) {
        const JobInfo& j = got.jobs[static_cast<size_t>(std::get<long long>(r.at("\x01index")))];
        order.push_back(&j);
        display.push_back(job_row(j, fields, now));
    }
    OutputFormat out = formatter.filter(display);
    if (!o.no_header)
        fmt::print("{}\n", out.header());

    if (o.json) {
        std::string body;
        for (size_t i = 0; i < order.size(); i++)
            body += (i ? ", " : "") + job_to_json(*order[i], now);
        if (o.jobids.size() == 1) {
            if (!order.empty())
                fmt::print("{}\n", body);
        } else {
            fmt::print("{{\"jobs\": [{}]}}\n", body);
        }
    } else {
        bool color = o.color == "always" || (o.color == "auto" && isatty(STDOUT_FILENO));
        for (size_t i = 0; i < order.size(); i++) {
            std::string line = out.format(display[i]);
            if (line.find_first_not_of(" \t") == std::string::npos)
                continue;
            const char* esc = nullptr;
            if (color) {
                std::string result = std::get<std::string>(job_field(*order[i], "result", now));
                if (result == "COMPLETED")
                    esc = "\033[01;32m";
                else if (result == "FAILED" || result == "TIMEOUT")
                    esc = "\033[01;31m";
                else if (result == "CANCELED")
                    esc = "\033[37m";
                else if (result.empty() && !std::get<std::string>(job_field(*order[i], "uri", now)).empty())
                    esc = "\033[01;34m";
            }
            fmt::print("{}{}\n{}", esc ? esc : "", line, esc ? "\033[0;0m" : "");
        }
    }
    std::fflush(stdout);
    if (!o.no_header && got.truncated) {
        fmt::print(stderr, "warning: output truncated at {} jobs.\n", o.count);
        fmt::print(stderr, "Use --count to increase returned results or use filters to alter results.\n");
    }
    // -R: each running instance of ours, its jobs under its id path.
    if (o.recursive && (o.level < 0 || level < o.level)) {
        for (const JobInfo* j : order) {
            std::string uri = running_instance_uri(*j, now);
            if (uri.empty() || (!o.recurse_all && j->userid != getuid()))
                continue;
            std::string p = path + encode_jobid(j->id, JobIdEncoding::f58);
            fmt::print("\n{}:\n", p);
            std::fflush(stdout);
            auto child = Handle::open(uri);
            if (!child) {
                errorf(CMD, fmt::format("{}: {}", p, child.error().message()));
                continue;
            }
            Options below = o;  // job ids on the command line name jobs here, not below
            below.jobids.clear();
            list_jobs(child->get(), below, formatter, p + "/", level + 1);
        }
    }
    // flux-core exits 0 here; a script asking about an id that does not
    // exist is better told so by the exit code as well (as squeue -j does).
    return got.unknown > 0 ? 1 : 0;
}

}  // namespace

int jobs(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    Options o;
    CLI::App app{"List jobs", "flux jobs"};
    std::vector<CLI::Option*> filter_opts;
    filter_opts.push_back(app.add_flag("-a", o.a, "List jobs in all states"));
    filter_opts.push_back(app.add_flag("-A", o.A, "List all jobs for all users"));
    filter_opts.push_back(app.add_option("-c,--count", o.count, "Limit output to N jobs (default 1000)"));
    filter_opts.push_back(app.add_option("-f,--filter", o.filter, "List jobs with specific job state or result")
                              ->type_name("STATE|RESULT")
                              ->allow_extra_args(false));
    filter_opts.push_back(app.add_option(
        "--since", o.since,
        "Include jobs that have become inactive since WHEN. (implies -a if no other --filter option is specified)"));
    app.add_flag("-n,--no-header", o.no_header, "Suppress printing of header line");
    app.add_flag("--suppress-header", o.no_header)->group("");
    auto* user_opt = app.add_option("-u,--user", o.user,
                                    "Limit output to specific username or userid (Specify \"all\" for all users)");
    filter_opts.push_back(user_opt);
    filter_opts.push_back(app.add_option("--name", o.name, "Limit output to specific job name"));
    filter_opts.push_back(app.add_option("-q,--queue", o.queue, "Limit output to specific queue or queues")
                              ->type_name("QUEUE,...")
                              ->allow_extra_args(false));
    app.add_option("-i,--include", o.include,
                   "Limit output to jobs that were allocated to the specified HOSTS or RANKS provided as a hostlist "
                   "or idset.");
    app.add_option("-o,--format", o.format,
                   "Specify output format using Python's string format syntax or a defined format by name (use "
                   "'help' to get a list of names)");
    app.add_option("--sort", o.sort, "Specify sort order")->type_name("KEY,...");
    app.add_flag("--json", o.json, "Output jobs in JSON instead of formatted output");
    auto* color_opt =
        app.add_option("--color", o.color, "Colorize output; WHEN can be 'never', 'always', or 'auto' (default)")
            ->expected(0, 1)
            ->type_name("WHEN");
    app.add_flag("--stats", o.stats, "Print job statistics before header");
    app.add_flag("--stats-only", o.stats_only,
                 "Print job statistics only and exit. Exits with non-zero status if there are no active jobs.");
    app.add_flag("-R,--recursive", o.recursive, "List jobs recursively");
    app.add_flag("--recurse-all", o.recurse_all, "With -R, also recurse into other users' instances (implies -R)");
    app.add_option("-L,--level", o.level, "With -R, stop recursing at level N");
    app.add_flag("--from-stdin", o.from_stdin)->group("");
    app.add_option("jobids", o.jobids, "Limit output to specific Job IDs")->type_name("JOBID");
    parse_or_exit(app, argc, argv, CMD);

    for (auto* opt : filter_opts)
        if (opt->count() > 0)
            o.filtered = true;
    o.filtered_user = user_opt->count() > 0;
    if (color_opt->count() > 0 && o.color.empty())
        o.color = "always";
    if (o.color != "never" && o.color != "always" && o.color != "auto") {
        fmt::print(stderr,
                   "flux-jobs: error: argument --color: invalid choice: '{}' (choose from 'never', "
                   "'always', 'auto')\n",
                   o.color);
        return 2;
    }
    for (const auto& s : o.jobids) {
        if (!parse_jobid(s)) {
            fmt::print(stderr, "flux-jobs: error: argument JOBID: invalid JobID value: '{}'\n", s);
            return 2;
        }
    }
    if (o.json && (o.stats || o.stats_only))
        py_error("--json incompatible with --stats or --stats-only");
    if (!o.jobids.empty() && o.filtered)
        py_warning("Filtering options ignored with jobid list");

    auto fmt_s = format_string(o.format);
    auto formatter = OutputFormat::parse(fmt_s, job_heading);
    if (!formatter)
        py_error("Error in user format: " + formatter.error().message());
    if (!o.sort.empty()) {
        if (auto r = formatter->set_sort_keys(o.sort); !r)
            py_error(r.error().message());
    }
    o.recursive = o.recursive || o.recurse_all;

    std::unique_ptr<Handle> h;
    if (!o.from_stdin || o.stats || o.stats_only)
        h = open_or_die(CMD);
    return list_jobs(h.get(), o, *formatter, "", 0);
}

}  // namespace flux::cmd
