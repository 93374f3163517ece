// Submission options -> jobspec, as flux-core's JobspecV1.from_command and
// its CLI base class do.
#include "jobopts.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <fstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/jobspec.hpp>

extern char** environ;

namespace flux::cmd {

using json = nlohmann::json;

void JobOptions::add_to(CLI::App& app, bool slots)
{
    if (slots) {
        app.add_option("-n,--nslots", ntasks, "Number of resource slots to allocate");
        app.add_option("-c,--cores-per-slot", cores_per_task, "Number of cores per slot (default 1)");
        app.add_option("-g,--gpus-per-slot", gpus_per_task, "Number of GPUs per slot");
    } else {
        app.add_option("-n,--ntasks", ntasks, "Number of tasks to start");
        app.add_option("-c,--cores-per-task", cores_per_task, "Number of cores to allocate per task");
        app.add_option("-g,--gpus-per-task", gpus_per_task, "Number of GPUs to allocate per task");
    }
    app.add_option("-N,--nodes", nodes, "Number of nodes to allocate");
    app.add_flag("-x,--exclusive", exclusive, "With -N, allocate nodes exclusively");
    if (!slots) {
        app.add_option("--tasks-per-node", tasks_per_node, "Force number of tasks per node");
        app.add_option("--tasks-per-core", tasks_per_core, "Force number of tasks per core");
        app.add_option("--cores", cores, "Request a total number of cores");
        app.add_option("--gpus-per-node", gpus_per_node, "Request a number of GPUs per node");
    }
    app.add_option("-t,--time-limit", time_limit, "Time limit in Flux Standard Duration (bare number: minutes)");
    app.add_option("--job-name", job_name, "Set an optional name for the job");
    app.add_option("--cwd", cwd, "Set the working directory of the job");
    app.add_option("-q,--queue", queue, "Submit the job to a queue");
    app.add_option("--env", env, "Control how the environment is propagated (VAR=VAL, VAR, -PATTERN)")
        ->allow_extra_args(false);
    app.add_option("--env-remove", env_remove, "Remove environment variables matching PATTERN")
        ->allow_extra_args(false);
    app.add_option("--env-file", env_file, "Read --env rules from a file")->allow_extra_args(false);
    app.add_option("--rlimit", rlimit, "Control resource limit propagation (NAME=VALUE)")->allow_extra_args(false);
    app.add_option("-o,--setopt", setopt, "Set shell option KEY[=VAL] (VAL as JSON, else string)")
        ->allow_extra_args(false);
    app.add_option("-S,--setattr", setattr, "Set jobspec attribute KEY[=VAL]")->allow_extra_args(false);
    app.add_option("--urgency", urgency, "Set the job urgency (0-31); 0 holds the job");
    app.add_option("--dependency", dependency, "Set a dependency, e.g. afterok:JOBID")->allow_extra_args(false);
    app.add_option("--flags", flags, "Submit flags: waitable, debug, novalidate (comma separated)");
    app.add_option("--begin-time", begin_time, "Hold the job until a time (not supported yet)");
    app.add_option("--output", output, "Redirect job stdout to a file ({{id}} expands to the job id)");
    app.add_option("--error", error, "Redirect job stderr to a file ({{id}} expands to the job id)");
    app.add_option("--input", input, "Read job stdin from a file");
    app.add_flag("-l,--label-io", label_io, "Label output lines with the task rank");
    app.add_flag("-u,--unbuffered", unbuffered, "Disable output buffering as much as possible");
    app.add_flag("--dry-run", dry_run, "Print the jobspec on stdout instead of submitting it");
}

Result<int> JobOptions::flag_bits() const
{
    int bits = 0;
    std::size_t pos = 0;
    while (pos <= flags.size() && !flags.empty()) {
        std::size_t comma = flags.find(',', pos);
        std::string f = flags.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (f == "waitable")
            bits |= 2;
        else if (f == "debug")
            bits |= 1;
        else if (f == "novalidate")
            bits |= 4;
        else
            return fail(EINVAL, fmt::format("unknown flag '{}'", f));
        if (comma == std::string::npos)
            break;
        pos = comma + 1;
    }
    return bits;
}

namespace {

// "a.b.c" -> obj["a"]["b"]["c"] = value
void set_path(json& obj, const std::string& key, json value)
{
    json* cur = &obj;
    std::size_t pos = 0;
    while (true) {
        std::size_t dot = key.find('.', pos);
        std::string part = key.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        if (dot == std::string::npos) {
            (*cur)[part] = std::move(value);
            return;
        }
        if (!(*cur)[part].is_object())
            (*cur)[part] = json::object();
        cur = &(*cur)[part];
        pos = dot + 1;
    }
}

// KEY[=VAL]: VAL decoded as JSON when it is JSON, else a string; no VAL = 1.
std::pair<std::string, json> key_value(const std::string& arg)
{
    auto eq = arg.find('=');
    if (eq == std::string::npos)
        return {arg, 1};
    std::string val = arg.substr(eq + 1);
    json v = json::parse(val, nullptr, false);
    if (v.is_discarded())
        v = val;
    return {arg.substr(0, eq), v};
}

std::string subst(std::string s, const std::string& key, const std::string& val)
{
    std::size_t p;
    while ((p = s.find(key)) != std::string::npos)
        s.replace(p, key.size(), val);
    return s;
}

// Apply one --env rule to env (flux-core semantics).
Result<void> env_rule(std::map<std::string, std::string>& env, const std::string& rule,
                      const std::map<std::string, std::string>& base)
{
    if (rule.empty())
        return {};
    if (rule[0] == '-') {
        std::string pat = rule.substr(1);
        for (auto it = env.begin(); it != env.end();)
            it = fnmatch(pat.c_str(), it->first.c_str(), 0) == 0 ? env.erase(it) : std::next(it);
        return {};
    }
    auto eq = rule.find('=');
    if (eq != std::string::npos) {
        std::string name = rule.substr(0, eq), val = rule.substr(eq + 1);
        // $VAR and ${VAR} expand from the current environment.
        std::string out;
        for (std::size_t i = 0; i < val.size(); i++) {
            if (val[i] == '$' && i + 1 < val.size()) {
                std::size_t start = i + 1, end;
                bool brace = val[start] == '{';
                if (brace) {
                    end = val.find('}', start);
                    if (end == std::string::npos)
                        return fail(EINVAL, fmt::format("--env: unterminated ${{ in '{}'", rule));
                    std::string var = val.substr(start + 1, end - start - 1);
                    if (auto it = env.find(var); it != env.end())
                        out += it->second;
                    i = end;
                } else {
                    end = start;
                    while (end < val.size() && (isalnum(static_cast<unsigned char>(val[end])) || val[end] == '_'))
                        end++;
                    std::string var = val.substr(start, end - start);
                    if (auto it = env.find(var); it != env.end())
                        out += it->second;
                    i = end - 1;
                }
            } else {
                out += val[i];
            }
        }
        env[name] = out;
        return {};
    }
    // A name or glob: copy matching variables from the base environment.
    for (const auto& [k, v] : base)
        if (fnmatch(rule.c_str(), k.c_str(), 0) == 0)
            env[k] = v;
    return {};
}

}  // namespace

bool JobOptions::uses_cc(const std::vector<std::string>& command) const
{
    auto has = [](const std::string& s) { return s.find("{cc}") != std::string::npos; };
    return std::ranges::any_of(command, has) || has(job_name) || has(output) || has(error);
}

Result<json> JobOptions::jobspec(const std::vector<std::string>& command_in, int cc) const
{
    std::vector<std::string> command = command_in;
    std::string ccs = cc >= 0 ? std::to_string(cc) : "";
    if (cc >= 0)
        for (auto& a : command)
            a = subst(a, "{cc}", ccs);
    job::BuildOptions b;
    b.command = command;
    auto positive = [](const std::optional<int>& v, const char* name) -> Result<std::optional<std::uint32_t>> {
        if (!v)
            return std::optional<std::uint32_t>{};
        if (*v < 1)
            return fail(EINVAL, fmt::format("{} must be a positive integer (got {})", name, *v));
        return std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v));
    };
#define FLUX_POS(field, name)               \
    if (auto r = positive(field, name); !r) \
        return std::unexpected(r.error());  \
    else                                    \
        b.field = *r;
    FLUX_POS(ntasks, "--ntasks")
    FLUX_POS(cores_per_task, "--cores-per-task")
    FLUX_POS(nodes, "--nodes")
    FLUX_POS(tasks_per_node, "--tasks-per-node")
    FLUX_POS(tasks_per_core, "--tasks-per-core")
    FLUX_POS(cores, "--cores")
#undef FLUX_POS
    if (gpus_per_task) {
        if (*gpus_per_task < 0)
            return fail(EINVAL, "--gpus-per-task must not be negative");
        if (*gpus_per_task > 0)
            b.gpus_per_task = static_cast<std::uint32_t>(*gpus_per_task);
    }
    if (gpus_per_node) {
        if (*gpus_per_node < 0)
            return fail(EINVAL, "--gpus-per-node must not be negative");
        b.gpus_per_node = static_cast<std::uint32_t>(*gpus_per_node);
    }
    b.exclusive = exclusive;
    if (!time_limit.empty()) {
        auto d = job::parse_time_limit(time_limit);
        if (!d)
            return fail(EINVAL, fmt::format("invalid --time-limit '{}': {}", time_limit, d.error().message()));
        b.duration = *d;
    }
    b.job_name = cc >= 0 ? subst(job_name, "{cc}", ccs) : job_name;
    b.queue = queue;
    if (!cwd.empty()) {
        b.cwd = cwd;
    } else {
        char buf[PATH_MAX];
        if (getcwd(buf, sizeof(buf)))
            b.cwd = buf;
    }
    // Environment: everything we have, then the --env rules in order.
    std::map<std::string, std::string> base;
    for (char** e = environ; *e; e++) {
        std::string s(*e);
        auto eq = s.find('=');
        if (eq != std::string::npos)
            base[s.substr(0, eq)] = s.substr(eq + 1);
    }
    std::map<std::string, std::string> envmap = base;
    std::vector<std::string> rules = this->env;
    for (const auto& path : env_file) {
        std::ifstream in(path);
        if (!in)
            return fail(ENOENT, fmt::format("--env-file: cannot read {}", path));
        std::string line;
        while (std::getline(in, line))
            if (!line.empty() && line[0] != '#')
                rules.push_back(line);
    }
    for (const auto& r : rules)
        if (auto res = env_rule(envmap, r, base); !res)
            return std::unexpected(res.error());
    for (const auto& pat : env_remove)
        for (auto it = envmap.begin(); it != envmap.end();)
            it = fnmatch(pat.c_str(), it->first.c_str(), 0) == 0 ? envmap.erase(it) : std::next(it);
    if (cc >= 0)
        envmap["FLUX_JOB_CC"] = ccs;
    b.environment = std::move(envmap);

    auto js = job::build(b);
    if (!js)
        return std::unexpected(js.error());
    json doc = *js->doc;
    json& sys = doc["attributes"]["system"];
    bool had_shell = sys.contains("shell"), had_options = had_shell && sys["shell"].contains("options");
    json& shopts = sys["shell"]["options"];
    if (!shopts.is_object())
        shopts = json::object();
    for (const auto& o : setopt) {
        auto [k, v] = key_value(o);
        if (k.empty())
            return fail(EINVAL, fmt::format("invalid --setopt '{}'", o));
        set_path(shopts, k, v);
    }
    std::string out = cc >= 0 ? subst(output, "{cc}", ccs) : output;
    std::string err = cc >= 0 ? subst(error, "{cc}", ccs) : error;
    if (!out.empty())
        set_path(shopts, "output.stdout", json{{"type", "file"}, {"path", out}});
    if (!err.empty())
        set_path(shopts, "output.stderr", json{{"type", "file"}, {"path", err}});
    if (!input.empty())
        set_path(shopts, "input.stdin", json{{"type", "file"}, {"path", input}});
    else if (!stdin_log_ranks.empty())
        set_path(shopts, "input.stdin", json{{"type", "log"}, {"ranks", stdin_log_ranks}});
    if (label_io) {
        set_path(shopts, "output.stdout.label", true);
        set_path(shopts, "output.stderr.label", true);
    }
    if (unbuffered)
        set_path(shopts, "output.stdout.buffer.type", "none");
    if (!dependency.empty()) {
        json deps = json::array();
        for (const auto& d : dependency) {
            auto colon = d.find(':');
            if (colon == std::string::npos || colon == 0 || colon + 1 == d.size())
                return fail(EINVAL, fmt::format("invalid dependency '{}': expected SCHEME:VALUE", d));
            deps.push_back({{"scheme", d.substr(0, colon)}, {"value", d.substr(colon + 1)}});
        }
        sys["dependencies"] = deps;
    }
    for (const auto& a : setattr) {
        auto [k, v] = key_value(a);
        if (k.empty())
            return fail(EINVAL, fmt::format("invalid --setattr '{}'", a));
        if (k.starts_with("."))
            k = k.substr(1);
        else if (!k.starts_with("system.") && !k.starts_with("user."))
            k = "system." + k;
        set_path(doc["attributes"], k, v);
    }
    if (!begin_time.empty())
        return fail(ENOTSUP, "--begin-time is not supported yet");
    if (shopts.empty() && !had_options)
        sys["shell"].erase("options");
    if (sys["shell"].empty() && !had_shell)
        sys.erase("shell");
    return doc;
}

}  // namespace flux::cmd
