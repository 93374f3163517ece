// Build a V1 jobspec from command line options, replicating flux-core's
// flux run/submit (python: cli/base.py SubmitBaseCmd.init_jobspec(),
// job/Jobspec.py JobspecV1.from_command() and per_resource(),
// MiniCmd.jobspec_create()).
#include <cmath>

#include <nlohmann/json.hpp>

#include "flux/jobspec.hpp"

namespace flux::job {

using nlohmann::json;

namespace {

std::unexpected<Error> invalid(std::string text)
{
    return fail(EINVAL, std::move(text));
}

json resource(std::string_view type, std::uint32_t count, json with = nullptr, bool exclusive = false)
{
    json r{{"type", type}, {"count", count}};
    if (exclusive)
        r["exclusive"] = true;
    if (!with.is_null())
        r["with"] = std::move(with);
    return r;
}

json slot(std::uint32_t count, json with)
{
    json s = resource("slot", count, std::move(with));
    s["label"] = "task";
    return s;
}

json task(const std::vector<std::string>& command, json count)
{
    return json::array({{{"command", command}, {"slot", "task"}, {"count", std::move(count)}}});
}

// JobspecV1.per_resource(): --cores, --tasks-per-node/-core, --gpus-per-node.
Result<json> per_resource_layout(const BuildOptions& o, bool exclusive, json& shell_options)
{
    std::optional<std::string> per_type;
    std::uint32_t per_count = 0;
    if (o.tasks_per_node) {
        per_type = "node";
        per_count = *o.tasks_per_node;
    } else if (o.tasks_per_core) {
        per_type = "core";
        per_count = *o.tasks_per_core;
    }
    if (o.cores && *o.cores < 1)
        return invalid("ncores must be an integer >= 1");
    if (o.gpus_per_node && !o.nodes)
        return invalid("gpus_per_node must be specified with nnodes");
    if (o.nodes && *o.nodes < 1)
        return invalid("nnodes must be an integer >= 1");
    if (!o.nodes && exclusive)
        return invalid("exclusive can only be set with a node count");

    std::uint32_t nslots = 1, slot_size = 1;
    if (o.nodes && o.cores) {
        if (*o.cores < *o.nodes)
            return invalid("number of cores cannot be less than nnodes");
        if (*o.cores % *o.nodes != 0)
            return invalid("number of cores must be evenly divisible by node count");
        slot_size = *o.cores / *o.nodes;
    } else if (o.cores) {
        nslots = *o.cores;
    } else if (o.nodes) {
        if (!exclusive)
            return invalid("Specifying nnodes also requires ncores or exclusive");
    } else {
        return invalid("must specify node or core count with per_resource");
    }
    json children = json::array({resource("core", slot_size)});
    if (o.gpus_per_node && *o.gpus_per_node > 0)
        children.push_back(resource("gpu", *o.gpus_per_node));
    json top = slot(nslots, std::move(children));
    if (o.nodes)
        top = resource("node", *o.nodes, json::array({std::move(top)}), exclusive);
    if (per_type)
        shell_options["per-resource"] = {{"type", *per_type}, {"count", per_count}};
    return json::array({std::move(top)});
}

// JobspecV1.from_command(): -n, -c, -g, -N, -x.
Result<json> per_task_layout(const BuildOptions& o, std::uint32_t ntasks, bool exclusive, json& tasks)
{
    std::uint32_t cores = o.cores_per_task.value_or(1);
    if (ntasks < 1)
        return invalid("task count must be a integer >= 1");
    if (cores < 1)
        return invalid("cores per task must be an integer >= 1");
    if (o.nodes) {
        if (*o.nodes < 1)
            return invalid("node count must be an integer >= 1 (if set)");
        if (*o.nodes > ntasks)
            return invalid("node count must not be greater than task count");
    } else if (exclusive) {
        return invalid("exclusive can only be set with a node count");
    }
    json children = json::array({resource("core", cores)});
    if (o.gpus_per_task && *o.gpus_per_task > 0)
        children.push_back(resource("gpu", *o.gpus_per_task));
    json count = {{"per_slot", 1}};
    json top;
    if (o.nodes) {
        std::uint32_t per_node = (ntasks + *o.nodes - 1) / *o.nodes;  // ceil: uneven layouts waste slots
        if (ntasks % *o.nodes != 0)
            count = {{"total", ntasks}};
        top = resource("node", *o.nodes, json::array({slot(per_node, std::move(children))}), exclusive);
    } else {
        top = slot(ntasks, std::move(children));
    }
    tasks = task(o.command, std::move(count));
    return json::array({std::move(top)});
}

}  // namespace

Result<Jobspec> build(const BuildOptions& o)
{
    if (o.command.empty())
        return invalid("job command and arguments are missing");
    if (o.tasks_per_node && o.tasks_per_core)
        return invalid("Do not specify both the number of tasks per node and per core");
    if (o.tasks_per_node && *o.tasks_per_node < 1)
        return invalid("--tasks-per-node must be >= 1");
    if (o.tasks_per_core && *o.tasks_per_core < 1)
        return invalid("--tasks-per-core must be >= 1");
    if (o.gpus_per_node && *o.gpus_per_node > 0 && !o.nodes)
        return invalid("--gpus-per-node requires --nodes");

    bool exclusive = o.exclusive;
    json shell_options = json::object();
    json tasks;
    Result<json> resources;
    if (o.tasks_per_node || o.tasks_per_core || o.gpus_per_node || o.cores) {
        if (o.ntasks || o.cores_per_task || (o.gpus_per_task && *o.gpus_per_task > 0))
            return invalid("Per-resource options can't be used with per-task options. (See --help for details)");
        if (o.nodes && !o.cores)
            exclusive = true;  // only -N: whole nodes, as flux-core
        resources = per_resource_layout(o, exclusive, shell_options);
        tasks = task(o.command, {{"per_slot", 1}});
    } else {
        if (o.nodes && *o.nodes < 1)
            return invalid("node count must be an integer >= 1 (if set)");
        std::uint32_t ntasks = o.ntasks.value_or(1);
        if (!o.ntasks && o.nodes) {
            ntasks = *o.nodes;  // -N without -n: one task per (exclusive) node
            exclusive = true;
        }
        resources = per_task_layout(o, ntasks, exclusive, tasks);
    }
    if (!resources)
        return std::unexpected(resources.error());

    json system = {{"duration", 0}};
    if (o.duration < 0 || !std::isfinite(o.duration))
        return invalid("duration must be a normal, finite value");
    if (o.duration > 0)
        system["duration"] = o.duration;
    system["environment"] = json::object();
    for (const auto& [name, value] : o.environment)
        system["environment"][name] = value;
    if (!o.cwd.empty())
        system["cwd"] = o.cwd;
    if (!o.rlimits.empty()) {
        for (const auto& [name, value] : o.rlimits)
            shell_options["rlimit"][name] = value;
    }
    if (!shell_options.empty())
        system["shell"] = {{"options", std::move(shell_options)}};
    if (!o.job_name.empty())
        system["job"] = {{"name", o.job_name}};
    if (!o.queue.empty())
        system["queue"] = o.queue;

    json doc = {
        {"resources", std::move(*resources)},
        {"tasks", std::move(tasks)},
        {"attributes", {{"system", std::move(system)}}},
        {"version", 1},
    };
    return Jobspec::from_json(doc);
}

}  // namespace flux::job
