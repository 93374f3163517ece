// flux pstree: a tree of jobs by name, like pstree(1) (flux-pstree(1)).
// Identical leaves are combined as "N*[label]". Jobs that are Flux
// instances (annotation user.uri, running) are descended into.
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/clock.hpp>
#include <flux/jobid.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "format.hpp"
#include "jobinfo.hpp"

namespace flux::cmd {

using ojson = nlohmann::ordered_json;

namespace {

const std::map<std::string, std::string> details_formats = {
    {"default", "{id.f58:>12} {username:<8.8} {status_abbrev:>2.2} {ntasks:>6h} {nnodes:>6h} {runtime!F:>8h}"},
    {"resources",
     "{id.f58:>12} {instance.resources.all.nnodes:>5} {instance.resources.allocated.nnodes:>5} "
     "{instance.resources.all.ncores:>5} {instance.resources.allocated.ncores:>5} "
     "{instance.resources.all.ngpus:>5} {instance.resources.allocated.ngpus:>5}"},
    {"progress",
     "{id.f58:>12} {ntasks:>6h} {instance.stats.total:>6} {instance.progress!P:>5} {instance.utilization!P:>5} "
     "{instance.gpu_utilization!P:>5} {runtime!H:>10}"},
    {"stats", "{id.f58:>12} {instance.stats:^25} {runtime!H:>10}"},
};

[[noreturn]] void py_error(const std::string& msg)
{
    fmt::print(stderr, "flux-pstree: ERROR: {}\n", msg);
    std::exit(1);
}

struct Connectors {
    const char *pipe, *tee, *elbow, *blank;
};

// flux.util.Tree
struct Tree {
    std::string label, prefix;
    bool combine = false;
    int count = 1;
    std::vector<std::unique_ptr<Tree>> children;
    std::map<std::string, Tree*> duplicates;

    Tree(std::string l, const std::string& p, bool c) : label(std::move(l)), prefix(p.empty() ? p : p + " "), combine(c)
    {
    }

    void append_tree(std::unique_ptr<Tree> t)
    {
        if (!combine || !t->children.empty()) {
            children.push_back(std::move(t));
            return;
        }
        std::string key = t->prefix + t->label;
        if (auto it = duplicates.find(key); it != duplicates.end()) {
            it->second->count++;
            return;
        }
        duplicates[key] = t.get();
        children.push_back(std::move(t));
    }

    void render_(std::vector<const char*>& pstack, const char* connector, const Connectors& c, size_t limit) const
    {
        std::string l = count > 1 ? fmt::format("{}*[{}]", count, label) : label;
        std::string pre;
        for (size_t i = 0; i + 1 < pstack.size(); i++)
            pre += pstack[i];
        std::string line = prefix + pre + connector + l;
        if (limit && cp_count(line) > limit)
            line = line.substr(0, cp_offset(line, limit - 1)) + "+";
        fmt::print("{}\n", line);
        for (size_t i = 0; i < children.size(); i++) {
            bool last = i + 1 == children.size();
            pstack.push_back(last ? c.blank : c.pipe);
            children[i]->render_(pstack, last ? c.elbow : c.tee, c, limit);
            pstack.pop_back();
        }
    }

    void render(bool skip_root, const Connectors& c, size_t limit) const
    {
        if (skip_root) {
            for (const auto& ch : children)
                ch->render(false, c, limit);
            return;
        }
        std::vector<const char*> pstack;
        render_(pstack, "", c, limit);
    }
};

// shutil.get_terminal_size((132, 25)).columns
size_t terminal_columns()
{
    if (const char* cols = getenv("COLUMNS")) {
        long v = std::strtol(cols, nullptr, 10);
        if (v > 0)
            return static_cast<size_t>(v);
    }
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 132;
}

struct Formatters {
    std::unique_ptr<OutputFormat> label, parent, prefix;
};

OutputFormat parse_or_die(const std::string& f)
{
    auto r = OutputFormat::parse(f, job_heading);
    if (!r)
        py_error(r.error().message());
    return std::move(*r);
}

std::string format_job(const OutputFormat& f, const JobInfo& j, double now)
{
    return f.format(job_row(j, f.fields(), now), false);
}

struct Ctx {
    Formatters fmts;
    std::string filter;
    int count = 1000;
    int max_level = 999;
    bool combine = true;
    double now = 0;
};

std::uint32_t filter_states(const std::string& filters, std::uint32_t& results)
{
    std::uint32_t states = 0;
    for (const auto& f : split_commas({filters}))
        if (!add_filter(f, states, results))
            py_error(fmt::format("Invalid filter specified: {}", f));
    return states;
}

std::vector<JobInfo> fetch(Handle& h, const std::string& filters, int count, const std::vector<std::string>& ids)
{
    std::vector<JobInfo> out;
    if (!ids.empty())
        return fetch_jobs_by_id(h, ids, ojson::array({"all"}));
    std::uint32_t results = 0;
    std::uint32_t states = filter_states(filters, results);
    ojson all = ojson::array({{{"userid", {getuid()}}}});
    add_state_constraint(all, states, results);
    ojson req{{"max_entries", count}, {"attrs", {"all"}}, {"since", 0.0}, {"constraint", {{"and", all}}}};
    auto r = h.rpc("job-list.list", req.dump()).get();
    if (!r)
        return out;
    ojson resp = ojson::parse(r->payload, nullptr, false);
    if (resp.is_object() && resp.contains("jobs") && resp["jobs"].is_array())
        for (const auto& e : resp["jobs"])
            if (auto j = JobInfo::from_json(e))
                out.push_back(std::move(*j));
    return out;
}

std::unique_ptr<Tree> load_tree(Handle* h, const Ctx& ctx, const std::string& label, const std::string& prefix,
                                const std::string* filters, int level, bool skip_root,
                                const std::vector<std::string>& ids);

std::unique_ptr<Tree> process_entry(const JobInfo& job, const Ctx& ctx, const std::string* filters, int level)
{
    std::string uri = running_instance_uri(job, ctx.now);
    bool parent = !uri.empty();
    std::string label = format_job(parent ? *ctx.fmts.parent : *ctx.fmts.label, job, ctx.now);
    std::string prefix = ctx.fmts.prefix ? format_job(*ctx.fmts.prefix, job, ctx.now) : "";
    if (!parent)
        return std::make_unique<Tree>(label, prefix, false);
    std::unique_ptr<Handle> child;
    if (level + 1 <= ctx.max_level)
        if (auto hc = Handle::open(uri))
            child = std::move(*hc);
    if (!child)
        return std::make_unique<Tree>(label, prefix, ctx.combine);
    return load_tree(child.get(), ctx, label, prefix, filters, level + 1, true, {});
}

std::unique_ptr<Tree> load_tree(Handle* h, const Ctx& ctx, const std::string& label, const std::string& prefix,
                                const std::string* orig_filters, int level, bool skip_root,
                                const std::vector<std::string>& ids)
{
    // Filters apply below the root only, unless the root is shown.
    std::string filters = !orig_filters || (level == 0 && skip_root) ? "running" : *orig_filters;
    auto tree = std::make_unique<Tree>(label, prefix, ctx.combine);
    if (level > ctx.max_level || !h)
        return tree;
    for (const auto& job : fetch(*h, filters, ctx.count, ids))
        tree->append_tree(process_entry(job, ctx, orig_filters, level));
    return tree;
}

// The enclosing instance as a job: from its parent's job-list when it is
// a job itself, else made up from broker attributes.
JobInfo root_jobinfo(Handle& h)
{
    auto size = h.getattr("size");
    long long n = size ? std::strtoll(size->c_str(), nullptr, 10) : 1;
    JobInfo info;
    bool found = false;
    auto jobid = h.getattr("jobid");
    auto parent_uri = h.getattr("parent-uri");
    if (jobid && parent_uri) {
        if (auto id = parse_jobid(*jobid)) {
            if (auto ph = Handle::open(*parent_uri)) {
                auto r = (*ph)->rpc("job-list.list-id", ojson{{"id", *id}, {"attrs", {"all"}}}.dump()).get();
                if (r) {
                    ojson resp = ojson::parse(r->payload, nullptr, false);
                    if (resp.is_object() && resp.contains("job"))
                        if (auto j = JobInfo::from_json(resp["job"])) {
                            info = std::move(*j);
                            found = true;
                        }
                }
            }
        }
    }
    if (!found) {
        ojson mock{{"id", 0}, {"state", 16}, {"name", "."}, {"ntasks", n}, {"nnodes", n}};
        if (auto owner = h.getattr("security.owner"))
            mock["userid"] = std::strtoll(owner->c_str(), nullptr, 10);
        if (auto hl = h.getattr("hostlist"))
            mock["nodelist"] = *hl;
        if (auto uri = h.getattr("local-uri"))
            mock["annotations"] = {{"user", {{"uri", *uri}}}};
        if (auto t = h.getattr("broker.starttime"))
            mock["t_run"] = std::strtod(t->c_str(), nullptr);
        info = *JobInfo::from_json(mock);
        info.root = true;
    }
    info.ranks = fmt::format("0-{}", n - 1);
    return info;
}

}  // namespace

int pstree(int argc, char** argv)
{
    setlocale(LC_ALL, "");
    CLI::App app{"Display a tree of running jobs by name", "flux pstree"};
    bool all = false, extended = false, long_lines = false, parent_ids = false, no_header = false;
    bool no_combine = false, compact = false, ascii = false;
    int count = 1000, level = 999;
    std::string filter = "running", label, parent_label, detail_format, details, skip_root_s;
    std::vector<std::string> ids;
    std::vector<CLI::Option*> filter_opts;
    filter_opts.push_back(app.add_flag("-a,--all", all, "Include all jobs for current user in all states"));
    filter_opts.push_back(app.add_option("-c,--count", count, "Limit to N jobs per instance (default 1000)"));
    filter_opts.push_back(app.add_option("-f,--filter", filter, "list jobs with specific job state or result")
                              ->type_name("STATE|RESULT"));
    app.add_flag("-x,--extended", extended, "print extended details before tree output");
    app.add_flag("-l,--long", long_lines, "do not truncate long lines to terminal width");
    app.add_option("-L,--level", level, "only descend N levels");
    app.add_flag("-p,--parent-ids", parent_ids, "include jobids in parent labels");
    app.add_flag("-n,--no-header", no_header, "Suppress header with -x, --extended");
    app.add_flag("-X,--no-combine", no_combine, "disable combination of identical children");
    app.add_option("-o,--label", label, "change label format (default='{name}')")->type_name("FORMAT");
    app.add_option("--parent-label", parent_label, "change label format for parent only")->type_name("FORMAT");
    app.add_option("--detail-format", detail_format,
                   "specify output format for extended details (implies -x, --extended)")
        ->type_name("FORMAT");
    app.add_option("-d,--details", details, "Select a named extended details format (default,resources,progress,stats)")
        ->type_name("NAME");
    app.add_flag("-C,--compact", compact, "Use compact tree connectors");
    app.add_flag("--ascii", ascii, "Use ASCII character tree connectors");
    auto* skip_opt = app.add_option("--skip-root", skip_root_s,
                                    "suppress or include the enclosing instance in output. Default is 'no' unless "
                                    "the -x, --extended or -d, --details options are used.")
                         ->type_name("[yes|no]");
    app.add_option("jobids", ids, "Limit output to specific jobids")->type_name("JOBID");
    parse_or_exit(app, argc, argv, "pstree");

    bool filtered = false;
    for (auto* opt : filter_opts)
        filtered = filtered || opt->count() > 0;
    for (const auto& s : ids) {
        if (!parse_jobid(s)) {
            fmt::print(stderr, "flux-pstree: error: argument JOBID: invalid JobID value: '{}'\n", s);
            return 2;
        }
    }
    if (skip_opt->count() > 0 && skip_root_s != "yes" && skip_root_s != "no")
        py_error("--skip-root requires either 'yes' or 'no'");
    if (!ids.empty() && filtered)
        fmt::print(stderr, "flux-pstree: WARNING: filtering options ignored with jobid list\n");
    if (ascii && compact)
        fmt::print(stderr, "flux-pstree: CRITICAL: Choose only one of --ascii, --compact\n");
    if (all)
        filter = "pending,running,inactive";

    // TreeFormatter
    if (!label.empty() && parent_label.empty())
        parent_label = label;
    if (all) {
        if (label.empty())
            label = "{name}:{status_abbrev}";
        if (parent_label.empty())
            parent_label = "{name}";
    }
    if (label.empty())
        label = "{name}";
    if (parent_label.empty())
        parent_label = "{name}";
    if (parent_ids)
        parent_label = "{id.f58} " + parent_label;
    Ctx ctx;
    ctx.fmts.label = std::make_unique<OutputFormat>(parse_or_die(label));
    ctx.fmts.parent = std::make_unique<OutputFormat>(parse_or_die(parent_label));
    if (extended || !details.empty() || !detail_format.empty()) {
        if (details.empty())
            details = "default";
        if (detail_format.empty()) {
            auto it = details_formats.find(details);
            if (it == details_formats.end())
                py_error(fmt::format("Unknown --details format '{}'", details));
            detail_format = it->second;
        }
        ctx.fmts.prefix = std::make_unique<OutputFormat>(parse_or_die(detail_format));
    }
    ctx.filter = filter;
    ctx.count = count;
    ctx.max_level = level;
    ctx.combine = !no_combine;
    ctx.now = wall_time();

    bool skip_root = ctx.fmts.prefix != nullptr || !ids.empty();
    if (skip_opt->count() > 0)
        skip_root = skip_root_s == "yes";

    auto h = open_or_die("pstree");
    std::string root_label = ".", root_prefix;
    if (!skip_root) {
        JobInfo root = root_jobinfo(*h);
        root_label = format_job(*ctx.fmts.parent, root, ctx.now);
        if (ctx.fmts.prefix)
            root_prefix = format_job(*ctx.fmts.prefix, root, ctx.now);
    }
    auto tree = load_tree(h.get(), ctx, root_label, root_prefix, &ctx.filter, 0, skip_root, ids);

    static const Connectors box{"│   ", "├── ", "└── ", "    "};
    static const Connectors compact_c{"│ ", "├─", "└─", "  "};
    static const Connectors ascii_c{"|   ", "|-- ", "`-- ", "    "};
    const Connectors& style = compact ? compact_c : ascii ? ascii_c : box;
    if (ctx.fmts.prefix && !no_header)
        fmt::print("{}\n", ctx.fmts.prefix->header());
    tree->render(skip_root, style, long_lines ? 0 : terminal_columns());
    return 0;
}

}  // namespace flux::cmd
