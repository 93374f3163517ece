// flux batch and flux alloc: submit a job whose tasks are the brokers of a
// child instance (one per allocated node) running a script or a command as
// its initial program, as flux-core's JobspecV1.from_nest_command does.
#include <sys/ioctl.h>
#include <unistd.h>

#include <clocale>
#include <fstream>
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/directives.hpp>
#include <flux/jobid.hpp>

#include "attach.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "jobinfo.hpp"
#include "jobopts.hpp"
#include "libconf/conf.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {

// Options flux batch and flux alloc add to the job options.
struct NestOptions {
    std::vector<std::string> conf;         // --conf KEY=VAL | FILE
    std::vector<std::string> broker_opts;  // --broker-opts
    bool wrap = false;                     // batch --wrap
    bool bg = false;                       // alloc --bg
    bool verbose = false;                  // alloc -v
};

void add_nest_options(CLI::App& app, JobOptions& o, NestOptions& n)
{
    o.add_to(app, true);
    app.add_option("--conf", n.conf,
                   "Configure the child instance: KEY=VAL, or a .toml or .json file (may be repeated)")
        ->allow_extra_args(false);
    app.add_option("--broker-opts", n.broker_opts, "Pass options to the child instance's brokers (comma separated)")
        ->allow_extra_args(false);
}

std::string read_stream(std::istream& in)
{
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string sh_quote(const std::string& s)
{
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") ==
                          std::string::npos)
        return s;
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The child instance's configuration from --conf values, checked here so a
// typo is refused at submit time rather than failing the job later.
Result<json> child_conf(const std::vector<std::string>& confs)
{
    json conf = json::object();
    for (const auto& c : confs) {
        bool file = (c.ends_with(".toml") || c.ends_with(".json")) && access(c.c_str(), R_OK) == 0;
        if (file) {
            auto loaded = conf::load_path(c);
            if (!loaded)
                return fail(loaded.error().errnum, fmt::format("--conf={}: {}", c, loaded.error().message()));
            conf::merge(conf, *loaded);
        } else if (c.find('=') != std::string::npos) {
            if (auto r = conf::apply_override(conf, c); !r)
                return fail(EINVAL, fmt::format("--conf: {}", r.error().message()));
        } else {
            return fail(EINVAL, fmt::format("--conf={}: expected KEY=VAL or a readable .toml/.json file", c));
        }
    }
    if (auto r = conf::check_known(conf); !r)
        return fail(EINVAL, fmt::format("--conf: {}", r.error().message()));
    return conf;
}

// The nested-instance jobspec: `flux broker [OPTS] INITIAL...` as one task
// per allocated node; with `script`, the script travels in the jobspec
// (RFC 37 files) and the shell writes it to {{tmpdir}}/script.
Result<json> nest_jobspec(JobOptions o, const NestOptions& n, const std::vector<std::string>& initial,
                          const std::string* script)
{
    if (!o.ntasks) {
        if (!o.nodes)
            return fail(EINVAL, "Number of slots to allocate must be specified");
        o.ntasks = o.nodes;
        o.exclusive = true;
    }
    auto conf = child_conf(n.conf);
    if (!conf)
        return std::unexpected(conf.error());
    std::vector<std::string> command{"flux", "broker"};
    for (const auto& b : n.broker_opts)
        for (auto& part : split_commas({b}))
            command.push_back(part);
    if (!conf->empty())
        command.push_back("-c{{tmpdir}}/conf.json");
    command.insert(command.end(), initial.begin(), initial.end());
    auto js = o.jobspec(command);
    if (!js)
        return std::unexpected(js.error());
    json& sys = (*js)["attributes"]["system"];
    json& shopts = sys["shell"]["options"];
    shopts["per-resource"] = {{"type", "node"}, {"count", 1}};
    if (!conf->empty())
        sys["files"]["conf.json"] = {{"mode", 0100600}, {"data", *conf}};
    if (script)
        sys["files"]["script"] = {
            {"mode", 0100700}, {"encoding", "utf-8"}, {"size", script->size()}, {"data", *script}};
    return js;
}

std::string submit_payload(const json& jobspec, int urgency, int flags)
{
    return json{{"jobspec", jobspec}, {"urgency", urgency}, {"flags", flags}}.dump(-1, ' ', false,
                                                                                   json::error_handler_t::replace);
}

// Print the jobspec (--dry-run: nullopt) or submit it through `h` (opened
// here); errors end the command.
std::optional<JobId> submit_nested(const char* cmd, const Result<json>& js, const JobOptions& o,
                                   std::unique_ptr<Handle>& h)
{
    if (!js)
        die(cmd, js.error().message());
    if (o.dry_run) {
        fmt::print("{}\n", js->dump());
        return std::nullopt;
    }
    auto flags = o.flag_bits();
    if (!flags)
        die(cmd, flags.error().message());
    h = open_or_die(cmd);
    auto r = h->rpc("job-ingest.submit", submit_payload(*js, o.urgency, *flags)).get();
    if (!r)
        die(cmd, r.error().message());
    return json::parse(r->payload).at("id").get<JobId>();
}

// Wait until job `id`'s instance has posted its URI (it is up), or the job
// ended first. Returns the URI or the reason it will never come.
Result<std::string> wait_for_uri(Handle& h, JobId id)
{
    Future f =
        h.rpc("job-info.eventlog-watch", json{{"id", id}, {"path", "eventlog"}}.dump(), NODEID_ANY, msgflag::streaming);
    std::string why = "the job ended before its instance started";
    while (true) {
        auto r = f.get();
        if (!r)
            return fail(ENODATA, r.error().errnum == ENODATA ? why : r.error().message());
        f.reset();
        json ev = json::parse(r->payload, nullptr, false);
        if (!ev.is_object() || !ev.contains("event"))
            continue;
        const json& e = ev["event"];
        std::string name = e.value("name", "");
        const json ctx = e.value("context", json::object());
        if (name == "memo" && ctx.contains("uri") && ctx["uri"].is_string())
            return ctx["uri"].get<std::string>();
        if (name == "exception" && ctx.value("severity", 1) == 0)
            why = fmt::format("job {}: {}", ctx.value("type", "exception"), ctx.value("note", ""));
        if (name == "clean")
            return fail(ENODATA, why);
    }
}

}  // namespace

int batch(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    const char* desc = "Submit a batch script to run as the initial program of a new Flux instance";
    // First pass: where the script is. Directives in it give defaults that
    // the command line then overrides (RFC 36), so the options are parsed
    // again below, directives first.
    CLI::App app{desc, "flux batch"};
    JobOptions o;
    NestOptions n;
    add_nest_options(app, o, n);
    app.add_flag("--wrap", n.wrap, "Wrap the arguments or standard input in a /bin/sh script");
    app.prefix_command();
    parse_or_exit(app, argc, argv, "batch");
    std::vector<std::string> rest = app.remaining();
    if (!rest.empty() && rest[0].starts_with("-"))
        die("batch", fmt::format("unrecognized option '{}'", rest[0]));
    bool from_stdin = rest.empty();
    std::string script;
    std::string name;
    std::vector<std::string> args;
    if (n.wrap) {
        if (from_stdin) {
            script = read_stream(std::cin);
        } else {
            std::vector<std::string> q;
            for (const auto& a : rest)
                q.push_back(sh_quote(a));
            script = fmt::format("{}\n", fmt::join(q, " "));
        }
        script = "#!/bin/sh\n" + script;
        name = from_stdin ? "batch" : rest[0];
    } else if (from_stdin) {
        script = read_stream(std::cin);
        name = "batch";
    } else {
        std::ifstream in(rest[0], std::ios::binary);
        if (!in)
            die("batch", fmt::format("{}: {}", rest[0], strerror(errno)));
        script = read_stream(in);
        name = rest[0];
        args.assign(rest.begin() + 1, rest.end());
    }
    if (!script.starts_with("#!"))
        die("batch", fmt::format("{} does not appear to start with '#!'", from_stdin ? "stdin" : rest[0]));
    auto words = job::parse_directives(script);
    if (!words)
        die("batch", fmt::format("{}: {}", from_stdin ? "stdin" : rest[0], words.error().message()));

    // Second pass: directives, then the command line.
    JobOptions o2;
    NestOptions n2;
    if (!words->empty()) {
        CLI::App dapp{desc, "flux batch"};
        add_nest_options(dapp, o2, n2);
        std::vector<std::string> rev(words->rbegin(), words->rend());
        try {
            dapp.parse(rev);
        } catch (const CLI::ParseError& e) {
            die("batch", fmt::format("{}: directives: {}", from_stdin ? "stdin" : rest[0], e.what()));
        }
        if (!dapp.remaining().empty())
            die("batch", fmt::format("{}: directives: unexpected argument '{}'", from_stdin ? "stdin" : rest[0],
                                     dapp.remaining()[0]));
    }
    {
        CLI::App capp{desc, "flux batch"};
        add_nest_options(capp, o2, n2);
        capp.add_flag("--wrap", n2.wrap, "");
        capp.prefix_command();
        parse_or_exit(capp, argc, argv, "batch");
    }
    if (o2.job_name.empty())
        o2.job_name = name;
    if (o2.output.empty())
        o2.output = "flux-{{id}}.out";
    else if (o2.output == "none" || o2.output == "kvs")
        o2.output.clear();
    std::vector<std::string> initial{"{{tmpdir}}/script"};
    initial.insert(initial.end(), args.begin(), args.end());
    std::unique_ptr<Handle> h;
    if (auto id = submit_nested("batch", nest_jobspec(o2, n2, initial, &script), o2, h))
        fmt::print("{}\n", encode_jobid(*id, JobIdEncoding::f58));
    return 0;
}

int alloc(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Allocate resources and start a new Flux instance running a command (or a shell)", "flux alloc"};
    JobOptions o;
    NestOptions n;
    add_nest_options(app, o, n);
    app.add_flag("--bg", n.bg, "Start the instance in the background: print its id once it is up");
    app.add_flag("-v,--verbose", n.verbose, "Print the job id on stderr");
    app.prefix_command();
    parse_or_exit(app, argc, argv, "alloc");
    std::vector<std::string> command = app.remaining();
    if (!command.empty() && command[0].starts_with("-"))
        die("alloc", fmt::format("unrecognized option '{}'", command[0]));
    if (n.bg && !command.empty())
        die("alloc", "--bg does not take a command");
    if (n.bg)
        n.broker_opts.push_back("-Sbroker.rc2_none=1");
    if (o.job_name.empty())
        o.job_name = command.empty() ? "flux" : command[0];
    // The initial program reads our stdin through the job's input log; from
    // a terminal, it gets a terminal of its own (a pty the size of ours).
    bool forward_stdin = !n.bg && !stdin_is_null();
    if (forward_stdin)
        o.stdin_log_ranks = "0";
    bool tty = !n.bg && isatty(0);
    if (tty) {
        winsize ws{};
        if (ioctl(0, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
            ws = winsize{24, 80, 0, 0};
        o.setopt.push_back(fmt::format(R"(pty={{"ranks":"0","rows":{},"cols":{}}})", ws.ws_row, ws.ws_col));
    }
    std::unique_ptr<Handle> h;
    auto id = submit_nested("alloc", nest_jobspec(o, n, command, nullptr), o, h);
    if (!id)
        return 0;
    std::string f58 = encode_jobid(*id, JobIdEncoding::f58);
    if (n.verbose)
        fmt::print(stderr, "jobid: {}\n", f58);
    if (n.bg) {
        auto uri = wait_for_uri(*h, *id);
        if (!uri)
            die("alloc", fmt::format("{}: {}", f58, uri.error().message()));
        fmt::print("{}\n", f58);
        return 0;
    }
    AttachOptions ao;
    ao.forward_stdin = forward_stdin;
    ao.stdin_ranks = "0";
    ao.raw_tty = tty;
    return attach(*h, *id, ao);
}

}  // namespace flux::cmd
