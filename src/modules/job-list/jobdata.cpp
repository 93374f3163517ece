// Job records: jobspec and R reduction, attribute encoding (jobdata.hpp).
#include "jobdata.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/jobspec.hpp>
#include <flux/rlist.hpp>

namespace flux::joblist {

using json = nlohmann::json;

namespace {

// flux-core's parse_job_name(): the basename, unless the path ends in '/'.
std::string basename_of(const std::string& path)
{
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash + 1 == path.size())
        return path;
    return path.substr(slash + 1);
}

const json* find_path(const json& j, std::initializer_list<const char*> keys)
{
    const json* p = &j;
    for (const char* k : keys) {
        if (!p->is_object())
            return nullptr;
        auto it = p->find(k);
        if (it == p->end())
            return nullptr;
        p = &*it;
    }
    return p;
}

std::string string_at(const json& j, std::initializer_list<const char*> keys)
{
    const json* p = find_path(j, keys);
    return p && p->is_string() ? p->get<std::string>() : std::string();
}

std::int32_t clamp32(std::uint64_t v)
{
    return static_cast<std::int32_t>(std::min<std::uint64_t>(v, INT32_MAX));
}

std::string json_string(const std::string& s)
{
    return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::shared_ptr<const SpecInfo> reduce_jobspec(const json& jobspec)
{
    auto info = std::make_shared<SpecInfo>();
    try {
        // Best effort first, so an invalid jobspec still yields what it can.
        info->cwd = string_at(jobspec, {"attributes", "system", "cwd"});
        info->queue = string_at(jobspec, {"attributes", "system", "queue"});
        info->project = string_at(jobspec, {"attributes", "system", "project"});
        info->bank = string_at(jobspec, {"attributes", "system", "bank"});
        info->name = string_at(jobspec, {"attributes", "system", "job", "name"});
        if (info->name.empty()) {
            const json* tasks = find_path(jobspec, {"tasks"});
            if (tasks && tasks->is_array() && !tasks->empty()) {
                const json* cmd = find_path((*tasks)[0], {"command"});
                if (cmd && cmd->is_array() && !cmd->empty() && (*cmd)[0].is_string())
                    info->name = basename_of((*cmd)[0].get<std::string>());
            }
        }
        if (const json* d = find_path(jobspec, {"attributes", "system", "duration"}); d && d->is_number())
            info->duration = d->get<double>();
        auto js = job::Jobspec::from_json(jobspec);
        if (!js)
            return info;
        info->nnodes = js->nnodes > 0 ? clamp32(js->nnodes) : -1;
        std::uint64_t nslots = js->nslots, slot_size = js->cores_per_slot;
        info->ntasks = clamp32(js->ntasks);
        if (js->per_resource) {
            std::uint32_t count = js->per_resource->count;
            if (js->per_resource->type == "node") {
                if (js->nnodes > 0) {
                    info->ntasks = clamp32(std::uint64_t{js->nnodes} * count);
                } else {
                    info->tasks_per_node = count;
                    info->ntasks = -1;
                }
            } else if (js->per_resource->type == "core") {
                if (js->nnodes == 0) {
                    info->ntasks = clamp32(nslots * slot_size * count);
                } else {
                    info->tasks_per_core = count;
                    info->ntasks = -1;
                }
            }
        }
        info->ncores = js->nnodes > 0 && js->exclusive ? -1 : clamp32(nslots * slot_size);
    } catch (const std::exception&) {
        // keep what was read
    }
    return info;
}

Result<RInfo> reduce_R(const json& R)
{
    auto rl = Rlist::from_json(R);
    if (!rl)
        return std::unexpected(rl.error());
    RInfo r;
    IdSet ranks = rl->ranks();
    r.nnodes = clamp32(ranks.count());
    r.ranks = ranks.encode(true);
    r.nodelist = rl->nodelist().encode();
    r.ncores = clamp32(rl->ncores());
    r.ngpus = clamp32(rl->ngpus());
    r.expiration = rl->expiration();
    return r;
}

void Job::set_spec(std::shared_ptr<const SpecInfo> s)
{
    spec = std::move(s);
    if (!spec)
        return;
    ntasks = spec->ntasks;
    ncores = spec->ncores;
    nnodes = spec->nnodes;
}

void Job::set_R(const RInfo& r)
{
    expiration = r.expiration;
    nnodes = r.nnodes;
    ranks = r.ranks;
    nodelist = r.nodelist;
    ncores = r.ncores;
    if (spec && spec->tasks_per_node)
        ntasks = clamp32(std::uint64_t(r.nnodes) * spec->tasks_per_node);
    if (spec && spec->tasks_per_core)
        ntasks = clamp32(std::uint64_t(r.ncores) * spec->tasks_per_core);
}

const std::vector<std::string_view>& job_attrs()
{
    static const std::vector<std::string_view> attrs = {
        "userid",
        "urgency",
        "priority",
        "t_submit",
        "t_depend",
        "t_run",
        "t_cleanup",
        "t_inactive",
        "state",
        "name",
        "cwd",
        "queue",
        "project",
        "bank",
        "ntasks",
        "ncores",
        "duration",
        "nnodes",
        "ranks",
        "nodelist",
        "success",
        "exception_occurred",
        "exception_type",
        "exception_severity",
        "exception_note",
        "result",
        "expiration",
        "annotations",
        "waitstatus",
        "dependencies",
    };
    return attrs;
}

bool is_job_attr(std::string_view name)
{
    const auto& a = job_attrs();
    return std::find(a.begin(), a.end(), name) != a.end();
}

std::string json_real(double v)
{
    if (!std::isfinite(v))
        return "0.0";
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".eE") == std::string::npos)
        s += ".0";
    return s;
}

namespace {

// Append ,"attr":VALUE when the job has the attribute. Returns false for an
// unknown attribute name.
bool encode_attr(const Job& job, std::string_view attr, std::string& out)
{
    auto put = [&](std::string value) { out += fmt::format(",\"{}\":{}", attr, value); };
    auto put_str = [&](const std::string& s) { put(json_string(s)); };
    bool inactive = job.has(JobState::INACTIVE);
    if (attr == "userid") {
        put(fmt::format("{}", job.userid));
    } else if (attr == "urgency") {
        put(fmt::format("{}", job.urgency));
    } else if (attr == "priority") {
        if (job.has(JobState::SCHED))
            put(fmt::format("{}", job.priority));
    } else if (attr == "t_submit") {
        put(json_real(job.t_submit));
    } else if (attr == "t_depend") {
        if (job.submit_version < 1)
            put(json_real(job.t_submit));
        else if (job.has(JobState::DEPEND))
            put(json_real(job.t_depend));
    } else if (attr == "t_run") {
        if (job.has(JobState::RUN))
            put(json_real(job.t_run));
    } else if (attr == "t_cleanup") {
        if (job.has(JobState::CLEANUP))
            put(json_real(job.t_cleanup));
    } else if (attr == "t_inactive") {
        if (inactive)
            put(json_real(job.t_inactive));
    } else if (attr == "state") {
        put(fmt::format("{}", static_cast<std::uint32_t>(job.state)));
    } else if (attr == "name") {
        if (job.spec && !job.spec->name.empty())
            put_str(job.spec->name);
    } else if (attr == "cwd") {
        if (job.spec && !job.spec->cwd.empty())
            put_str(job.spec->cwd);
    } else if (attr == "queue") {
        if (job.spec && !job.spec->queue.empty())
            put_str(job.spec->queue);
    } else if (attr == "project") {
        if (job.spec && !job.spec->project.empty())
            put_str(job.spec->project);
    } else if (attr == "bank") {
        if (job.spec && !job.spec->bank.empty())
            put_str(job.spec->bank);
    } else if (attr == "ntasks") {
        if (job.ntasks >= 0)
            put(fmt::format("{}", job.ntasks));
    } else if (attr == "ncores") {
        if (job.ncores >= 0)
            put(fmt::format("{}", job.ncores));
    } else if (attr == "duration") {
        if (job.spec && job.spec->duration >= 0)
            put(json_real(job.spec->duration));
    } else if (attr == "nnodes") {
        if (job.nnodes >= 0)
            put(fmt::format("{}", job.nnodes));
    } else if (attr == "ranks") {
        if (job.has(JobState::RUN) && !job.ranks.empty())
            put_str(job.ranks);
    } else if (attr == "nodelist") {
        if (job.has(JobState::RUN) && !job.nodelist.empty())
            put_str(job.nodelist);
    } else if (attr == "expiration") {
        if (job.has(JobState::RUN) && job.expiration >= 0)
            put(json_real(job.expiration));
    } else if (attr == "waitstatus") {
        if (job.wait_status >= 0)
            put(fmt::format("{}", job.wait_status));
    } else if (attr == "success") {
        if (inactive)
            put(job.success ? "true" : "false");
    } else if (attr == "exception_occurred") {
        if (inactive)
            put(job.exception_occurred ? "true" : "false");
    } else if (attr == "exception_severity") {
        if (inactive && job.exception_occurred)
            put(fmt::format("{}", job.exception_severity));
    } else if (attr == "exception_type") {
        if (inactive && job.exception_occurred)
            put_str(job.exception_type);
    } else if (attr == "exception_note") {
        if (inactive && job.exception_occurred)
            put_str(job.exception_note);
    } else if (attr == "result") {
        if (inactive)
            put(fmt::format("{}", static_cast<std::uint32_t>(job.result)));
    } else if (attr == "annotations") {
        if (!job.annotations.empty())
            put(job.annotations);
    } else if (attr == "dependencies") {
        if (job.deps) {
            std::string a = "[";
            for (const auto& d : job.deps->current)
                a += (a.size() > 1 ? "," : "") + json_string(d);
            put(a + "]");
        }
    } else {
        return false;
    }
    return true;
}

}  // namespace

Result<void> encode_job(const Job& job, const std::vector<std::string>& attrs, std::string& out)
{
    out += fmt::format("{{\"id\":{}", job.id);
    for (const auto& a : attrs) {
        if (a == "all") {
            for (auto name : job_attrs())
                encode_attr(job, name, out);
        } else if (!encode_attr(job, a, out)) {
            return fail(EINVAL, fmt::format("{} is not a valid attribute", a));
        }
    }
    out += '}';
    return {};
}

}  // namespace flux::joblist
