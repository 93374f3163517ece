// flux run, flux submit and flux bulksubmit: build jobspecs from options
// (jobopts.hpp), submit them to job-ingest, and for run follow the job.
#include <unistd.h>

#include <clocale>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/clock.hpp>
#include <flux/idset.hpp>
#include <flux/jobid.hpp>
#include <flux/jobstate.hpp>

#include "attach.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "jobopts.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {

struct Submitted {
    bool ok = false;
    JobId id = 0;
    std::string error;
};

// Submit `count` jobs with up to `window` requests in flight; results in
// order. payload(i) makes the i-th request when it is about to be sent, so
// building requests overlaps with the instance taking the earlier ones.
std::vector<Submitted> submit_all(Handle& h, std::size_t count, const std::function<std::string(std::size_t)>& payload,
                                  bool progress)
{
    std::vector<Submitted> results(count);
    std::size_t next = 0, done = 0;
    const std::size_t window = 1024;
    double t0 = monotonic_time(), last_draw = 0;
    auto draw = [&](bool final) {
        if (!progress)
            return;
        double now = monotonic_time();
        if (!final && now - last_draw < 0.1)
            return;
        last_draw = now;
        std::size_t width = 40;
        std::size_t fill = count == 0 ? width : done * width / count;
        double rate = now > t0 ? static_cast<double>(done) / (now - t0) : 0;
        fmt::print(stderr, "\r[{}{}] {}/{} jobs {:.1f} job/s", std::string(fill, '#'), std::string(width - fill, '.'),
                   done, count, rate);
        if (final)
            fmt::print(stderr, "\n");
    };
    std::function<void()> pump = [&]() {
        while (next < count && next - done < window) {
            std::size_t i = next++;
            Future f = h.rpc("job-ingest.submit", payload(i));
            f.then([&, i](Future& fut) {
                auto r = fut.get();
                if (r) {
                    try {
                        results[i].id = json::parse(r->payload).at("id").get<JobId>();
                        results[i].ok = true;
                    } catch (const std::exception& ex) {
                        results[i].error = ex.what();
                    }
                } else {
                    results[i].error = r.error().message();
                }
                done++;
                draw(false);
                if (done == count)
                    h.reactor().stop();
                else
                    pump();
            });
        }
    };
    if (count == 0)
        return results;
    pump();
    h.reactor().run();
    draw(true);
    return results;
}

std::string submit_payload(const json& jobspec, int urgency, int flags)
{
    return json{{"jobspec", jobspec}, {"urgency", urgency}, {"flags", flags}}.dump(-1, ' ', false,
                                                                                   json::error_handler_t::replace);
}

// --wait --progress: every job's eventlog is watched at once and a line
// counts them as flux-core's does, "PD:n R:n CD:n F:n [bar] done/total
// elapsed", until all are inactive. A job has failed when it finished with
// a nonzero status or had a fatal exception.
void completion_progress(Handle& h, const std::vector<JobId>& ids)
{
    struct Track {
        JobState state = JobState::NEW;
        bool failed = false;
    };
    std::vector<Track> jobs(ids.size());
    std::vector<Future> watches;
    watches.reserve(ids.size());
    std::size_t inactive = 0, ended = 0;
    double t0 = monotonic_time(), last_draw = 0;
    auto draw = [&](bool final) {
        double now = monotonic_time();
        if (!final && now - last_draw < 0.1)
            return;
        last_draw = now;
        std::size_t pd = 0, r = 0, cd = 0, f = 0;
        for (const auto& j : jobs) {
            if (j.state == JobState::INACTIVE)
                (j.failed ? f : cd)++;
            else if ((static_cast<std::uint32_t>(j.state) & job_state_running) != 0)
                r++;
            else
                pd++;
        }
        std::size_t width = 30, fill = ids.empty() ? width : inactive * width / ids.size();
        fmt::print(stderr, "\rPD:{:<5} R:{:<5} CD:{:<5} F:{:<5} [{}{}] {}/{} {:.1f}s", pd, r, cd, f,
                   std::string(fill, '#'), std::string(width - fill, '.'), inactive, ids.size(), now - t0);
        if (final)
            fmt::print(stderr, "\n");
    };
    for (std::size_t i = 0; i < ids.size(); i++) {
        Future fut = h.rpc("job-info.eventlog-watch", json{{"id", ids[i]}, {"path", "eventlog"}}.dump(), NODEID_ANY,
                           msgflag::streaming);
        fut.then([&, i](Future& f) {
            auto r = f.get();
            f.reset();
            Track& t = jobs[i];
            if (!r) {  // ENODATA: the eventlog is complete (or the job is gone)
                ended++;
                if (t.state != JobState::INACTIVE) {
                    t.state = JobState::INACTIVE;
                    inactive++;
                }
            } else {
                try {
                    auto e = json::parse(r->payload).at("event");
                    std::string name = e.at("name").get<std::string>();
                    const json& ctx = e.contains("context") ? e["context"] : json::object();
                    bool fatal = name == "exception" && ctx.value("severity", 1) == 0;
                    if (fatal || (name == "finish" && ctx.value("status", 0) != 0))
                        t.failed = true;
                    JobState next = job_state_after(t.state, name, fatal);
                    if (next == JobState::INACTIVE && t.state != JobState::INACTIVE)
                        inactive++;
                    t.state = next;
                } catch (const std::exception&) {
                }
            }
            // Every stream must end before we return: the callbacks hold
            // references to this function's locals.
            draw(ended == ids.size());
            if (ended == ids.size())
                h.reactor().stop();
        });
        watches.push_back(std::move(fut));
    }
    if (!ids.empty())
        h.reactor().run();
}

// After submitting: --wait / --watch follow each job; exit code is the
// largest of the jobs'.
int follow(Handle& h, const std::vector<JobId>& ids, bool watch, bool progress = false)
{
    if (progress && !watch)
        completion_progress(h, ids);
    int rc = 0;
    for (JobId id : ids) {
        AttachOptions ao;
        ao.read_only = true;
        ao.quiet_output = !watch;
        rc = std::max(rc, attach(h, id, ao));
    }
    return rc;
}

}  // namespace

int submit(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Submit a job to a Flux instance", "flux submit"};
    JobOptions o;
    o.add_to(app);
    std::string cc, bcc;
    bool quiet = false, wait = false, watch = false, progress = false;
    std::vector<std::string> command;
    app.add_option("--cc", cc, "Submit one copy per id in IDSET ({cc} expands to the id)");
    app.add_option("--bcc", bcc, "Like --cc, without setting FLUX_JOB_CC");
    app.add_flag("--quiet", quiet, "Do not print job ids");
    app.add_flag("--wait", wait, "Wait for the jobs to complete; exit with the largest exit code");
    app.add_flag("--watch", watch, "Print the jobs' output as they run; implies --wait");
    app.add_flag("--progress", progress, "Show a progress bar");
    app.prefix_command();  // everything from the first non-option on is the command
    parse_or_exit(app, argc, argv, "submit");
    command = app.remaining();
    if (command.empty())
        die("submit", "job command must be specified");
    if (command[0].starts_with("-"))
        die("submit", fmt::format("unrecognized option '{}'", command[0]));
    auto flags = o.flag_bits();
    if (!flags)
        die("submit", flags.error().message());
    std::vector<int> ccs;
    std::string set = !cc.empty() ? cc : bcc;
    if (!set.empty()) {
        auto ids = IdSet::parse(set);
        if (!ids || ids->empty())
            die("submit", fmt::format("invalid --cc/--bcc idset '{}'", set));
        if (ids->count() > 1000000)
            die("submit", "--cc: too many jobs");
        for (auto i : *ids)
            ccs.push_back(static_cast<int>(i));
    } else {
        ccs.push_back(-1);
    }
    auto make = [&](std::size_t i) {
        int c = ccs[i];
        auto js = o.jobspec(command, cc.empty() ? -1 : c);
        if (!js)
            die("submit", js.error().message());
        if (!bcc.empty())  // {cc} still expands, FLUX_JOB_CC is not set
            (*js)["attributes"]["system"]["environment"].erase("FLUX_JOB_CC");
        return std::move(*js);
    };
    if (o.dry_run) {
        for (std::size_t i = 0; i < ccs.size(); i++)
            fmt::print("{}\n", make(i).dump());
        return 0;
    }
    // A bad option fails here, before anything is submitted. When the copies
    // differ only in FLUX_JOB_CC, this one jobspec serves them all.
    json first = make(0);
    bool shared = !o.uses_cc(command);
    auto payload = [&](std::size_t i) {
        if (!shared)
            return submit_payload(make(i), o.urgency, *flags);
        if (bcc.empty() && ccs[i] >= 0)
            first["attributes"]["system"]["environment"]["FLUX_JOB_CC"] = std::to_string(ccs[i]);
        return submit_payload(first, o.urgency, *flags);
    };
    auto h = open_or_die("submit");
    auto results = submit_all(*h, ccs.size(), payload, progress);
    int rc = 0;
    std::vector<JobId> ids;
    std::string out;
    for (const auto& r : results) {
        if (!r.ok) {
            errorf("submit", r.error);
            rc = 1;
            continue;
        }
        ids.push_back(r.id);
        if (!quiet)
            out += encode_jobid(r.id, JobIdEncoding::f58) + "\n";
    }
    fputs(out.c_str(), stdout);
    fflush(stdout);
    if ((wait || watch) && !ids.empty())
        rc = std::max(rc, follow(*h, ids, watch, progress));
    return rc;
}

int run(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Run a job interactively", "flux run"};
    JobOptions o;
    o.add_to(app);
    std::vector<std::string> command;
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "Print the job id on stderr");
    app.prefix_command();  // everything from the first non-option on is the command
    parse_or_exit(app, argc, argv, "run");
    command = app.remaining();
    if (command.empty())
        die("run", "job command must be specified");
    if (command[0].starts_with("-"))
        die("run", fmt::format("unrecognized option '{}'", command[0]));
    auto flags = o.flag_bits();
    if (!flags)
        die("run", flags.error().message());
    // Output from the job's log is labeled here; the jobspec keeps the
    // option (as flux-core's), for the shell to label what goes to files.
    bool label = o.label_io;
    // stdin goes to the tasks through the job's input log, to every task or
    // to those --input=IDSET names (unless it is /dev/null: nothing to send).
    bool forward_stdin = false;
    std::string stdin_ranks = "all";
    if (o.input.empty() || IdSet::parse(o.input)) {
        if (!o.input.empty())
            stdin_ranks = std::exchange(o.input, "");
        forward_stdin = !stdin_is_null();
    }
    if (forward_stdin)
        o.stdin_log_ranks = stdin_ranks;
    auto js = o.jobspec(command);
    if (!js)
        die("run", js.error().message());
    if (o.dry_run) {
        fmt::print("{}\n", js->dump());
        return 0;
    }
    auto h = open_or_die("run");
    auto r = h->rpc("job-ingest.submit", submit_payload(*js, o.urgency, *flags)).get();
    if (!r)
        die("run", r.error().message());
    JobId id = json::parse(r->payload).at("id").get<JobId>();
    if (verbose)
        fmt::print(stderr, "jobid: {}\n", encode_jobid(id, JobIdEncoding::f58));
    AttachOptions ao;
    ao.label = label;
    ao.forward_stdin = forward_stdin;
    ao.stdin_ranks = stdin_ranks;
    return attach(*h, id, ao);
}

namespace {

// Python-style "{}" / "{N}" / "{seq}" / "{cc}" substitution for bulksubmit.
std::string bulk_format(const std::string& tmpl, const std::vector<std::string>& args, std::size_t seq)
{
    std::string out;
    std::size_t auto_index = 0;
    for (std::size_t i = 0; i < tmpl.size(); i++) {
        if (tmpl[i] == '{') {
            if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
                out += '{';
                i++;
                continue;
            }
            std::size_t close = tmpl.find('}', i);
            if (close != std::string::npos) {
                std::string key = tmpl.substr(i + 1, close - i - 1);
                if (key.empty()) {
                    out += auto_index < args.size() ? args[auto_index] : "";
                    auto_index++;
                    i = close;
                    continue;
                }
                if (key == "seq" || key == "seq1") {
                    out += std::to_string(seq + (key == "seq1" ? 1 : 0));
                    i = close;
                    continue;
                }
                if (std::all_of(key.begin(), key.end(), ::isdigit)) {
                    std::size_t k = std::stoul(key);
                    out += k < args.size() ? args[k] : "";
                    i = close;
                    continue;
                }
            }
        } else if (tmpl[i] == '}' && i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
            out += '}';
            i++;
            continue;
        }
        out += tmpl[i];
    }
    return out;
}

}  // namespace

int bulksubmit(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Submit jobs in bulk: COMMAND ::: INPUTS [::: INPUTS...]", "flux bulksubmit"};
    JobOptions o;
    o.add_to(app);
    bool quiet = false, wait = false, watch = false, progress = false, dry_run = false;
    std::vector<std::string> words;
    app.add_flag("--quiet", quiet, "Do not print job ids");
    app.add_flag("--wait", wait, "Wait for the jobs to complete");
    app.add_flag("--watch", watch, "Print the jobs' output; implies --wait");
    app.add_flag("--progress", progress, "Show a progress bar");
    app.prefix_command();
    parse_or_exit(app, argc, argv, "bulksubmit");
    words = app.remaining();
    if (!words.empty() && words[0].starts_with("-") && words[0] != ":::")
        die("bulksubmit", fmt::format("unrecognized option '{}'", words[0]));
    dry_run = o.dry_run;
    // Split COMMAND ::: a b ::: c d  (:::: FILE reads inputs from a file).
    std::vector<std::string> tmpl;
    std::vector<std::vector<std::string>> groups;
    bool in_inputs = false, from_file = false;
    for (auto& w : words) {
        if (w == ":::" || w == "::::") {
            groups.emplace_back();
            in_inputs = true;
            from_file = w == "::::";
            continue;
        }
        if (!in_inputs) {
            tmpl.push_back(w);
        } else if (from_file) {
            std::ifstream in(w);
            if (!in)
                die("bulksubmit", fmt::format("{}: cannot read inputs", w));
            std::string line;
            while (std::getline(in, line))
                groups.back().push_back(line);
        } else {
            groups.back().push_back(w);
        }
    }
    if (groups.empty()) {
        // Inputs from stdin, one per line.
        groups.emplace_back();
        std::string line;
        char buf[4096];
        while (fgets(buf, sizeof(buf), stdin)) {
            line = buf;
            if (!line.empty() && line.back() == '\n')
                line.pop_back();
            groups.back().push_back(line);
        }
    }
    for (const auto& g : groups)
        if (g.empty())
            die("bulksubmit", "an input list is empty");
    if (tmpl.empty())
        die("bulksubmit", "no command given");
    bool has_braces = false;
    for (const auto& t : tmpl)
        has_braces = has_braces || t.find('{') != std::string::npos;
    auto flags = o.flag_bits();
    if (!flags)
        die("bulksubmit", flags.error().message());
    // Cartesian product, last group varying fastest.
    std::vector<std::size_t> idx(groups.size(), 0);
    std::vector<std::string> payloads;
    std::size_t seq = 0;
    while (true) {
        std::vector<std::string> args;
        for (std::size_t g = 0; g < groups.size(); g++)
            args.push_back(groups[g][idx[g]]);
        std::vector<std::string> cmd;
        for (const auto& t : tmpl)
            cmd.push_back(bulk_format(t, args, seq));
        if (!has_braces)
            cmd.insert(cmd.end(), args.begin(), args.end());
        JobOptions oo = o;
        oo.job_name = bulk_format(o.job_name, args, seq);
        oo.output = bulk_format(o.output, args, seq);
        oo.error = bulk_format(o.error, args, seq);
        auto js = oo.jobspec(cmd);
        if (!js)
            die("bulksubmit", js.error().message());
        if (dry_run)
            fmt::print("{}\n", js->dump());
        else
            payloads.push_back(submit_payload(*js, o.urgency, *flags));
        seq++;
        std::size_t g = groups.size();
        while (g > 0) {
            g--;
            if (++idx[g] < groups[g].size())
                break;
            idx[g] = 0;
            if (g == 0) {
                g = SIZE_MAX;
                break;
            }
        }
        if (g == SIZE_MAX)
            break;
    }
    if (dry_run)
        return 0;
    auto h = open_or_die("bulksubmit");
    auto results = submit_all(
        *h, payloads.size(), [&](std::size_t i) { return std::move(payloads[i]); }, progress);
    int rc = 0;
    std::vector<JobId> ids;
    for (const auto& r : results) {
        if (!r.ok) {
            errorf("bulksubmit", r.error);
            rc = 1;
            continue;
        }
        ids.push_back(r.id);
        if (!quiet)
            fmt::print("{}\n", encode_jobid(r.id, JobIdEncoding::f58));
    }
    fflush(stdout);
    if ((wait || watch) && !ids.empty())
        rc = std::max(rc, follow(*h, ids, watch, progress));
    return rc;
}

}  // namespace flux::cmd
