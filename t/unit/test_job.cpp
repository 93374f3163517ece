// libjob: jobspec V1 (RFC 25) parse/build, FSD (RFC 23), YAML subset.
// Job ids, eventlog entries and job states are in test_jobid.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/jobspec.hpp>
#include <flux/yaml.hpp>

using nlohmann::json;
using namespace flux;
using flux::job::BuildOptions;
using flux::job::Jobspec;

namespace {

// --- jobspec examples (flux-core t/jobspec/valid_v1, RFC 25 use cases) ---

const char* example1_yaml = R"(version: 1
resources:
  - type: node
    count: 4
    with:
      - type: slot
        count: 1
        label: default
        with:
          - type: core
            count: 2
tasks:
  - command: [ "app" ]
    slot: default
    count:
      per_slot: 1
attributes:
  system:
    duration: 3600.
    cwd: "/home/flux"
    environment:
      HOME: "/home/flux"
)";

// Use case 1.1: the slot list sits at its parent key's indentation.
const char* use_case_1_1_yaml = R"(version: 1
resources:
  - type: node
    count: 4
    with:
    - type: slot
      count: 1
      label: default
      with:
        - type: core
          count: 1
tasks:
  - command: [ "flux", "start" ]
    slot: default
    count:
      per_slot: 1
attributes:
  system:
    duration: 3600.
    cwd: "/home/flux"
    environment:
      HOME: "/home/flux"
)";

// Use case 2.1 (5 tasks on 4 nodes, oversubscribed), with the command as an
// array: the RFC example's plain string form is refused (see below).
const char* use_case_2_1_yaml = R"(version: 1
resources:
  - type: node
    count: 4
    with:
      - type: slot
        count: 1
        label: myslot
        with:
          - type: core
            count: 1
tasks:
  - command: [ hostname ]
    slot: myslot
    count:
      total: 5
attributes:
  system:
    duration: 3600.
)";

const char* use_case_2_3_yaml = R"(version: 1
resources:
  - type: slot
    count: 10
    label: default
    with:
      - type: core
        count: 2
      - type: gpu
        count: 1
tasks:
  - command: [ "myapp" ]
    slot: default
    count:
      per_slot: 1
attributes:
  system:
    duration: 3600.
)";

const char* use_case_2_4_yaml = R"(version: 1
resources:
  - type: node
    count: 4
    with:
    - type: slot
      count: 4
      label: default
      with:
        - type: core
          count: 1
        - type: gpu
          count: 1
tasks:
  - command: [ "myapp" ]
    slot: default
    count:
      per_slot: 1
attributes:
  system:
    duration: 3600.
    cwd: "/home/flux"
    environment:
      HOME: "/home/flux"
)";

Jobspec parse_yaml_jobspec(const char* text)
{
    auto j = parse_yaml(text);
    EXPECT_TRUE(j.has_value()) << j.error().text;
    auto js = Jobspec::from_json(*j);
    EXPECT_TRUE(js.has_value()) << js.error().text;
    return js ? *js : Jobspec{};
}

// A minimal valid jobspec to break in one place at a time.
json minimal()
{
    return json::parse(R"({
        "version": 1,
        "resources": [{"type": "slot", "count": 2, "label": "task",
                       "with": [{"type": "core", "count": 1}]}],
        "tasks": [{"command": ["hostname"], "slot": "task", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": 0}}
    })");
}

// The error text of from_json(j), or "" if it was accepted.
std::string refusal(const json& j)
{
    auto js = Jobspec::from_json(j);
    if (js)
        return "";
    EXPECT_EQ(js.error().errnum, EINVAL);
    return js.error().text;
}

}  // namespace

TEST(Jobspec, Example1)
{
    Jobspec js = parse_yaml_jobspec(example1_yaml);
    EXPECT_EQ(js.nnodes, 4u);
    EXPECT_EQ(js.slots_per_node, 1u);
    EXPECT_EQ(js.nslots, 4u);
    EXPECT_EQ(js.cores_per_slot, 2u);
    EXPECT_EQ(js.gpus_per_slot, 0u);
    EXPECT_FALSE(js.exclusive);
    EXPECT_EQ(js.ntasks, 4u);
    EXPECT_EQ(js.tasks_per_slot, 1u);
    EXPECT_EQ(js.command, std::vector<std::string>{"app"});
    EXPECT_DOUBLE_EQ(js.duration, 3600);
    EXPECT_EQ(js.cwd, "/home/flux");
    EXPECT_EQ(js.job_name, "app");
    EXPECT_EQ(js.environment(), (std::map<std::string, std::string>{{"HOME", "/home/flux"}}));
    EXPECT_EQ(js.shell_options(), "{}");
    EXPECT_FALSE(js.per_resource);
    ASSERT_TRUE(js.doc);
    EXPECT_EQ(json::parse(js.dump()), *parse_yaml(example1_yaml));
}

TEST(Jobspec, UseCases)
{
    Jobspec a = parse_yaml_jobspec(use_case_1_1_yaml);
    EXPECT_EQ(a.nnodes, 4u);
    EXPECT_EQ(a.nslots, 4u);
    EXPECT_EQ(a.job_name, "flux");

    Jobspec b = parse_yaml_jobspec(use_case_2_1_yaml);
    EXPECT_EQ(b.nnodes, 4u);
    EXPECT_EQ(b.nslots, 4u);
    EXPECT_EQ(b.ntasks, 5u);
    EXPECT_EQ(b.tasks_per_slot, 0u);

    Jobspec c = parse_yaml_jobspec(use_case_2_3_yaml);
    EXPECT_EQ(c.nnodes, 0u);
    EXPECT_EQ(c.slots_per_node, 0u);
    EXPECT_EQ(c.nslots, 10u);
    EXPECT_EQ(c.cores_per_slot, 2u);
    EXPECT_EQ(c.gpus_per_slot, 1u);
    EXPECT_EQ(c.ntasks, 10u);

    Jobspec d = parse_yaml_jobspec(use_case_2_4_yaml);
    EXPECT_EQ(d.nnodes, 4u);
    EXPECT_EQ(d.slots_per_node, 4u);
    EXPECT_EQ(d.nslots, 16u);
    EXPECT_EQ(d.gpus_per_slot, 1u);
    EXPECT_EQ(d.ntasks, 16u);
}

TEST(Jobspec, OptionalAttributes)
{
    json j = minimal();
    j["resources"] = json::parse(R"([{"type": "node", "count": 2, "exclusive": true,
        "with": [{"type": "slot", "count": 3, "label": "task",
                  "with": [{"type": "gpu", "count": 0}, {"type": "core", "count": 4}]}]}])");
    j["tasks"][0]["command"] = {"/usr/bin/env", "-i"};
    j["attributes"]["system"] = json::parse(R"({
        "duration": 1.5, "queue": "batch", "job": {"name": "myjob"},
        "environment": {"A": "1", "B": null},
        "shell": {"options": {"per-resource": {"type": "node", "count": 4}, "verbose": 1}},
        "dependencies": [{"scheme": "afterok", "value": "f1234"}],
        "constraints": {"properties": ["foo"]},
        "future-key": [1, 2]
    })");
    j["attributes"]["user"] = "anything";
    auto js = Jobspec::from_json(j);
    ASSERT_TRUE(js) << js.error().text;
    EXPECT_TRUE(js->exclusive);
    EXPECT_EQ(js->nslots, 6u);
    EXPECT_EQ(js->slots_per_node, 3u);
    EXPECT_EQ(js->cores_per_slot, 4u);
    EXPECT_EQ(js->gpus_per_slot, 0u);
    EXPECT_EQ(js->queue, "batch");
    EXPECT_EQ(js->job_name, "myjob");
    EXPECT_DOUBLE_EQ(js->duration, 1.5);
    EXPECT_EQ(js->environment(), (std::map<std::string, std::string>{{"A", "1"}}));
    ASSERT_TRUE(js->per_resource);
    EXPECT_EQ(js->per_resource->type, "node");
    EXPECT_EQ(js->per_resource->count, 4u);
    EXPECT_EQ(json::parse(js->shell_options())["verbose"], 1);

    // job name defaults to the basename of command[0]
    j["attributes"]["system"].erase("job");
    EXPECT_EQ(Jobspec::from_json(j)->job_name, "env");
}

// What the job manager keeps (job-ingest sends it along with the text):
// the scheduler's view, the listing's copy and the dependencies.
TEST(Jobspec, ViewsAndDependencies)
{
    json j = minimal();
    j["attributes"]["system"] = json::parse(R"({
        "duration": 60, "queue": "batch", "environment": {"SECRET": "x"}, "cwd": "/tmp",
        "dependencies": [{"scheme": "afterok", "value": "f1234"}, {"scheme": "afterany", "value": "42"}]
    })");
    auto js = Jobspec::from_json(j);
    ASSERT_TRUE(js) << js.error().text;
    json view = json::parse(js->sched_view());
    EXPECT_EQ(view["version"], 1);
    EXPECT_EQ(view["resources"], j["resources"]);
    EXPECT_EQ(view["tasks"], j["tasks"]);
    EXPECT_EQ(view["attributes"], json::parse(R"({"system": {"duration": 60.0, "queue": "batch"}})"));
    EXPECT_EQ(js->dependencies(),
              (std::vector<std::pair<std::string, std::string>>{{"afterok", "f1234"}, {"afterany", "42"}}));
    // A view parses as a jobspec the scheduler can read.
    EXPECT_TRUE(Jobspec::from_json(view));
    // The listing's copy: everything but the environment (and files).
    json listing = json::parse(js->listing_view());
    json expect = j;
    expect["attributes"]["system"].erase("environment");
    EXPECT_EQ(listing, expect);

    auto plain = Jobspec::from_json(minimal());
    ASSERT_TRUE(plain);
    EXPECT_EQ(json::parse(plain->sched_view())["attributes"], json::parse(R"({"system": {"duration": 0.0}})"));
    EXPECT_TRUE(plain->dependencies().empty());
}

TEST(Jobspec, ParseText)
{
    auto js = Jobspec::parse(minimal().dump());
    ASSERT_TRUE(js);
    EXPECT_EQ(js->nslots, 2u);
    auto bad = Jobspec::parse("{\"version\": 1,");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().errnum, EPROTO);
    EXPECT_NE(bad.error().text.find("invalid JSON"), std::string::npos);
}

TEST(Jobspec, Refused)
{
    // Each case: a JSON pointer, its replacement (or null to remove), and a
    // fragment of the expected message.
    struct Case {
        const char* ptr;
        const char* value;  // JSON text; nullptr: remove the key
        const char* fragment;
    };
    const Case cases[] = {
        {"/version", "2", "version must be 1 (got 2)"},
        {"/version", "\"1\"", "version must be 1"},
        {"/version", nullptr, "missing required key 'version'"},
        {"/resources", nullptr, "missing required key 'resources'"},
        {"/tasks", nullptr, "missing required key 'tasks'"},
        {"/attributes", nullptr, "missing required key 'attributes'"},
        {"/extra", "1", "top level: unknown key 'extra'"},
        {"/resources", "{}", "resources must be an array with exactly one entry"},
        {"/resources", "[]", "resources must be an array with exactly one entry"},
        {"/resources/1", R"({"type": "slot", "count": 1, "label": "x", "with": [{"type": "core", "count": 1}]})",
         "resources must be an array with exactly one entry"},
        {"/resources/0/type", "\"core\"", "resources[0].type must be 'node' or 'slot'"},
        {"/resources/0/type", "3", "resources[0].type must be 'node' or 'slot'"},
        {"/resources/0", "7", "resources[0] must be an object"},
        {"/resources/0/count", "0", "resources[0].count must be a positive integer"},
        {"/resources/0/count", "-1", "resources[0].count must be a positive integer"},
        {"/resources/0/count", "1.5", "resources[0].count must be an integer"},
        {"/resources/0/count", "\"2\"", "count ranges"},
        {"/resources/0/count", R"({"min": 1, "max": 4})", "resources[0].count must be an integer: count ranges"},
        {"/resources/0/count", "4294967296", "resources[0].count is too large"},
        {"/resources/0/count", nullptr, "resources[0].count is required"},
        {"/resources/0/label", nullptr, "resources[0].label must be a non-empty string"},
        {"/resources/0/label", "\"\"", "resources[0].label must be a non-empty string"},
        {"/resources/0/id", "\"0\"", "resources[0]: unknown key 'id'"},
        {"/resources/0/unit", "1", "resources[0].unit must be a string"},
        {"/resources/0/exclusive", "\"yes\"", "resources[0].exclusive must be a boolean"},
        {"/resources/0/with", nullptr, "resources[0].with must be an array of a core"},
        {"/resources/0/with", "[]", "resources[0].with must be an array of a core"},
        {"/resources/0/with/0/type", "\"gpu\"", "resources[0].with must contain a core vertex"},
        {"/resources/0/with/0/type", "\"memory\"", "resources[0].with[0].type must be 'core' or 'gpu'"},
        {"/resources/0/with/0/count", "0", "resources[0].with[0].count must be a positive integer"},
        {"/resources/0/with/0/with", "[]", "resources[0].with[0]: unknown key 'with'"},
        {"/resources/0/with/1", R"({"type": "core", "count": 1})", "a slot may contain only one core vertex"},
        {"/resources/0/with/1", R"({"type": "gpu", "count": -1})",
         "resources[0].with[1].count must be a non-negative integer"},
        {"/tasks", "[]", "tasks must be an array with exactly one entry"},
        {"/tasks/0", "\"x\"", "tasks[0] must be an object"},
        {"/tasks/0/command", "[]", "tasks[0].command must be a non-empty array of strings"},
        {"/tasks/0/command", "\"hostname\"", "tasks[0].command must be a non-empty array of strings"},
        {"/tasks/0/command", "[\"a\", 1]", "tasks[0].command must be a non-empty array of strings"},
        {"/tasks/0/command", nullptr, "tasks[0].command must be a non-empty array"},
        {"/tasks/0/slot", "\"other\"", "tasks[0].slot 'other' does not match the slot label 'task'"},
        {"/tasks/0/slot", nullptr, "tasks[0].slot must be a string"},
        {"/tasks/0/count", "{}", "tasks[0].count must be an object with exactly one of per_slot or total"},
        {"/tasks/0/count", R"({"per_slot": 1, "total": 2})", "exactly one of per_slot or total"},
        {"/tasks/0/count", R"({"per_resource": {"type": "core", "count": 1}})", "exactly one of per_slot or total"},
        {"/tasks/0/count/per_slot", "2", "tasks[0].count.per_slot must be 1"},
        {"/tasks/0/count/per_slot", "0", "tasks[0].count.per_slot must be a positive integer"},
        {"/tasks/0/count", R"({"total": 0})", "tasks[0].count.total must be a positive integer"},
        {"/tasks/0/bogus", "1", "tasks[0]: unknown key 'bogus'"},
        {"/tasks/0/attributes", "1", "tasks[0].attributes must be an object"},
        {"/attributes", "[]", "attributes must be an object"},
        {"/attributes/system", nullptr, "attributes.system is required"},
        {"/attributes/other", "{}", "attributes: unknown key 'other'"},
        {"/attributes/system", "1", "attributes.system must be an object"},
        {"/attributes/system/duration", nullptr, "attributes.system.duration is required"},
        {"/attributes/system/duration", "-1", "attributes.system.duration must be a number >= 0"},
        {"/attributes/system/duration", "\"1h\"", "attributes.system.duration must be a number >= 0"},
        {"/attributes/system/environment", "[]", "attributes.system.environment must be an object"},
        {"/attributes/system/environment", R"({"A": 1})", "attributes.system.environment.A must be a string"},
        {"/attributes/system/cwd", "1", "attributes.system.cwd must be a string"},
        {"/attributes/system/queue", "true", "attributes.system.queue must be a string"},
        {"/attributes/system/job", R"({"name": 1})", "attributes.system.job.name must be a string"},
        {"/attributes/system/shell", R"({"options": []})", "attributes.system.shell.options must be an object"},
        {"/attributes/system/shell", R"({"options": {"per-resource": {"type": "gpu"}}})",
         "per-resource.type must be 'node' or 'core'"},
        {"/attributes/system/dependencies", R"({"scheme": "after"})", "dependencies must be an array"},
        {"/attributes/system/dependencies", R"([{"scheme": "after"}])",
         "attributes.system.dependencies[0] must be an object with string scheme and value"},
        {"/attributes/system/constraints", "[]", "attributes.system.constraints must be an object"},
    };
    for (const auto& c : cases) {
        json j = minimal();
        json::json_pointer p(c.ptr);
        if (c.value)
            j[p] = json::parse(c.value);
        else
            j.at(p.parent_pointer()).erase(p.back());
        std::string text = refusal(j);
        EXPECT_NE(text.find(c.fragment), std::string::npos)
            << c.ptr << " = " << (c.value ? c.value : "(removed)") << ": got '" << text << "'";
        EXPECT_EQ(text.rfind("jobspec: ", 0), 0u) << text;
    }
    EXPECT_NE(refusal(json::array()).find("must be a JSON object"), std::string::npos);
}

TEST(Jobspec, RefusedNodeLevel)
{
    json node = json::parse(R"({"type": "node", "count": 2,
        "with": [{"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}]})");
    json j = minimal();
    j["resources"][0] = node;
    EXPECT_EQ(refusal(j), "");

    j["resources"][0]["with"] = json::array();
    EXPECT_NE(refusal(j).find("resources[0].with must be an array with exactly one slot"), std::string::npos);
    j["resources"][0]["with"] = json::parse(R"([{"type": "core", "count": 1}])");
    EXPECT_NE(refusal(j).find("resources[0].with[0].type must be 'slot'"), std::string::npos);
    j["resources"][0] = node;
    j["resources"][0]["exclusive"] = 1;
    EXPECT_NE(refusal(j).find("resources[0].exclusive must be a boolean"), std::string::npos);
    j["resources"][0] = node;
    j["resources"][0]["with"][0]["count"] = 0;
    EXPECT_NE(refusal(j).find("resources[0].with[0].count must be a positive integer"), std::string::npos);

    // RFC 25: count.total may not be below the node count
    j["resources"][0] = node;
    j["tasks"][0]["count"] = {{"total", 1}};
    EXPECT_NE(refusal(j).find("tasks[0].count.total (1) must be at least the number of nodes (2)"), std::string::npos);
    j["tasks"][0]["count"] = {{"total", 3}};  // oversubscribed: allowed
    EXPECT_EQ(refusal(j), "");
}

// --- build(): compared with flux-core's `flux run --dry-run` ---
//
// Expected documents are derived by hand from flux-core's
// cli/base.py SubmitBaseCmd.init_jobspec() and job/Jobspec.py
// JobspecV1.from_command(): resources are {type, count[, exclusive][, with]}
// plus label "task" on the slot; tasks are [{command, slot: "task", count}];
// attributes.system starts as {duration: 0} and jobspec_create() adds
// environment and cwd (and, in flux-core >= 0.54, shell.options.rlimit from
// the caller's limits: BuildOptions.rlimits is empty here, so none).

namespace {

BuildOptions opts()
{
    BuildOptions o;
    o.command = {"hostname"};
    o.cwd = "/tmp";
    return o;
}

json expected(const char* resources, const char* count, const char* system_extra = "")
{
    return json::parse(fmt::format(R"({{"resources": {}, "tasks": [{{"command": ["hostname"], "slot": "task",
        "count": {}}}], "attributes": {{"system": {{"duration": 0, "environment": {{}}, "cwd": "/tmp"{}}}}},
        "version": 1}})",
                                   resources, count, system_extra));
}

json built(const BuildOptions& o)
{
    auto js = job::build(o);
    EXPECT_TRUE(js) << js.error().text;
    return js ? *js->doc : json();
}

std::string build_error(const BuildOptions& o)
{
    auto js = job::build(o);
    EXPECT_FALSE(js);
    if (js)
        return "";
    EXPECT_EQ(js.error().errnum, EINVAL);
    return js.error().text;
}

}  // namespace

TEST(JobspecBuild, TasksAndCores)
{
    // flux run -n4 -c2: from_command(num_tasks=4, cores_per_task=2): one
    // slot vertex of count 4, per_slot 1.
    BuildOptions o = opts();
    o.ntasks = 4;
    o.cores_per_task = 2;
    EXPECT_EQ(built(o),
              expected(R"([{"type": "slot", "count": 4, "label": "task", "with": [{"type": "core", "count": 2}]}])",
                       R"({"per_slot": 1})"));
    auto js = job::build(o);
    EXPECT_EQ(js->nslots, 4u);
    EXPECT_EQ(js->ntasks, 4u);
    EXPECT_EQ(js->cores_per_slot, 2u);
    EXPECT_EQ(js->job_name, "hostname");

    // flux run hostname: -n1 -c1 by default
    EXPECT_EQ(built(opts()),
              expected(R"([{"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}])",
                       R"({"per_slot": 1})"));
}

TEST(JobspecBuild, NodesEven)
{
    // flux run -N2 -n4: num_slots = ceil(4/2) = 2 slots per node, and since
    // 4 % 2 == 0 the task count stays {per_slot: 1}.
    BuildOptions o = opts();
    o.nodes = 2;
    o.ntasks = 4;
    EXPECT_EQ(built(o), expected(R"([{"type": "node", "count": 2, "with": [{"type": "slot", "count": 2,
        "label": "task", "with": [{"type": "core", "count": 1}]}]}])",
                                 R"({"per_slot": 1})"));
    auto js = job::build(o);
    EXPECT_EQ(js->nnodes, 2u);
    EXPECT_EQ(js->slots_per_node, 2u);
    EXPECT_EQ(js->nslots, 4u);
    EXPECT_EQ(js->ntasks, 4u);
    EXPECT_FALSE(js->exclusive);
}

TEST(JobspecBuild, NodesOnly)
{
    // flux run -N2: init_jobspec() sets ntasks = nodes and exclusive = True,
    // so: 2 exclusive nodes with one slot each, per_slot 1.
    BuildOptions o = opts();
    o.nodes = 2;
    EXPECT_EQ(built(o), expected(R"([{"type": "node", "count": 2, "exclusive": true, "with": [{"type": "slot",
        "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}]}])",
                                 R"({"per_slot": 1})"));
    auto js = job::build(o);
    EXPECT_TRUE(js->exclusive);
    EXPECT_EQ(js->ntasks, 2u);
}

TEST(JobspecBuild, NodesUneven)
{
    // flux run -n3 -N2: num_slots = ceil(3/2) = 2 per node (one is wasted),
    // 3 % 2 != 0 so count is {total: 3}.
    BuildOptions o = opts();
    o.nodes = 2;
    o.ntasks = 3;
    EXPECT_EQ(built(o), expected(R"([{"type": "node", "count": 2, "with": [{"type": "slot", "count": 2,
        "label": "task", "with": [{"type": "core", "count": 1}]}]}])",
                                 R"({"total": 3})"));
    auto js = job::build(o);
    EXPECT_EQ(js->nslots, 4u);
    EXPECT_EQ(js->ntasks, 3u);
    EXPECT_EQ(js->tasks_per_slot, 0u);
}

TEST(JobspecBuild, Exclusive)
{
    // flux run -x -N1: ntasks = 1 (from -N), node vertex "exclusive": true.
    BuildOptions o = opts();
    o.nodes = 1;
    o.exclusive = true;
    EXPECT_EQ(built(o), expected(R"([{"type": "node", "count": 1, "exclusive": true, "with": [{"type": "slot",
        "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}]}])",
                                 R"({"per_slot": 1})"));
    // flux run -x without -N: from_command() refuses it.
    BuildOptions x = opts();
    x.exclusive = true;
    EXPECT_EQ(build_error(x), "exclusive can only be set with a node count");
}

TEST(JobspecBuild, Gpus)
{
    // flux run -g1: a gpu vertex after the core vertex (-g0 adds none).
    BuildOptions o = opts();
    o.gpus_per_task = 1;
    EXPECT_EQ(built(o), expected(R"([{"type": "slot", "count": 1, "label": "task", "with": [
        {"type": "core", "count": 1}, {"type": "gpu", "count": 1}]}])",
                                 R"({"per_slot": 1})"));
    EXPECT_EQ(job::build(o)->gpus_per_slot, 1u);
    o.gpus_per_task = 0;
    EXPECT_EQ(built(o)["resources"][0]["with"].size(), 1u);
}

TEST(JobspecBuild, TimeLimitNameQueueEnv)
{
    // flux run -t 5m: duration = parse_fsd("5m") = 300.0 seconds.
    BuildOptions o = opts();
    o.duration = *job::parse_time_limit("5m");
    o.job_name = "myname";
    o.queue = "debug";
    o.environment = {{"PATH", "/bin"}};
    o.rlimits = {{"nofile", 1024}, {"core", -1}};
    json j = built(o);
    EXPECT_EQ(j["attributes"]["system"], json::parse(R"({"duration": 300.0, "environment": {"PATH": "/bin"},
        "cwd": "/tmp", "job": {"name": "myname"}, "queue": "debug",
        "shell": {"options": {"rlimit": {"nofile": 1024, "core": -1}}}})"));
    EXPECT_TRUE(j["attributes"]["system"]["duration"].is_number_float());
    auto js = job::build(o);
    EXPECT_DOUBLE_EQ(js->duration, 300);
    EXPECT_EQ(js->job_name, "myname");
    EXPECT_EQ(js->queue, "debug");
    // no -t: integer 0, as flux-core's {"duration": 0}
    EXPECT_TRUE(built(opts())["attributes"]["system"]["duration"].is_number_integer());
}

TEST(JobspecBuild, PerResource)
{
    // flux run -N2 --tasks-per-node=3: per_resource() with nnodes only
    // (exclusive forced), one slot of one core per node, and the shell
    // option per-resource {type: node, count: 3}.
    BuildOptions o = opts();
    o.nodes = 2;
    o.tasks_per_node = 3;
    json j = built(o);
    EXPECT_EQ(j["resources"], json::parse(R"([{"type": "node", "count": 2, "exclusive": true, "with": [
        {"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}]}])"));
    EXPECT_EQ(j["attributes"]["system"]["shell"]["options"]["per-resource"],
              json::parse(R"({"type": "node", "count": 3})"));
    auto js = job::build(o);
    ASSERT_TRUE(js->per_resource);
    EXPECT_EQ(js->per_resource->count, 3u);

    // flux run --cores=8 -N2: 4 cores per node in one slot, not exclusive.
    BuildOptions c = opts();
    c.cores = 8;
    c.nodes = 2;
    EXPECT_EQ(built(c)["resources"], json::parse(R"([{"type": "node", "count": 2, "with": [
        {"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 4}]}]}])"));
    c.cores = 3;
    EXPECT_EQ(build_error(c), "number of cores must be evenly divisible by node count");
    c.cores = 1;
    EXPECT_EQ(build_error(c), "number of cores cannot be less than nnodes");

    BuildOptions m = opts();
    m.tasks_per_node = 2;
    m.ntasks = 4;
    EXPECT_EQ(build_error(m), "Per-resource options can't be used with per-task options. (See --help for details)");
    m.ntasks.reset();
    EXPECT_EQ(build_error(m), "must specify node or core count with per_resource");
    m.tasks_per_core = 1;
    EXPECT_EQ(build_error(m), "Do not specify both the number of tasks per node and per core");
    BuildOptions g = opts();
    g.gpus_per_node = 2;
    EXPECT_EQ(build_error(g), "--gpus-per-node requires --nodes");
}

TEST(JobspecBuild, Errors)
{
    BuildOptions o = opts();
    o.nodes = 3;
    o.ntasks = 2;
    EXPECT_EQ(build_error(o), "node count must not be greater than task count");
    o = opts();
    o.ntasks = 0;
    EXPECT_EQ(build_error(o), "task count must be a integer >= 1");
    o = opts();
    o.cores_per_task = 0;
    EXPECT_EQ(build_error(o), "cores per task must be an integer >= 1");
    o = opts();
    o.nodes = 0;
    o.ntasks = 2;
    EXPECT_EQ(build_error(o), "node count must be an integer >= 1 (if set)");
    o = opts();
    o.tasks_per_node = 0;
    EXPECT_EQ(build_error(o), "--tasks-per-node must be >= 1");
    o = opts();
    o.command.clear();
    EXPECT_EQ(build_error(o), "job command and arguments are missing");
}

// --- RFC 23 durations ---

TEST(Duration, Parse)
{
    struct {
        const char* in;
        double seconds;
    } good[] = {{"0", 0},       {"30", 30},     {"30s", 30},  {"1.5", 1.5},    {"5m", 300},   {"1.5h", 5400},
                {"2d", 172800}, {"100ms", 0.1}, {"0.5m", 30}, {"3600.", 3600}, {"1e2s", 100}, {".5s", 0.5}};
    for (const auto& g : good) {
        auto d = job::parse_duration(g.in);
        ASSERT_TRUE(d) << g.in;
        EXPECT_DOUBLE_EQ(*d, g.seconds) << g.in;
    }
    for (const char* inf : {"inf", "infinity", "INF"}) {
        auto d = job::parse_duration(inf);
        ASSERT_TRUE(d) << inf;
        EXPECT_TRUE(std::isinf(*d));
    }
    for (const char* bad : {"", "s", "m", "ms", "-1", "-1s", "1x", "1 s", " 1", "abc", "1.5.5", "nan", "infs", "0x10",
                            "+5", "5mm", "1hs"}) {
        auto d = job::parse_duration(bad);
        ASSERT_FALSE(d) << bad;
        EXPECT_EQ(d.error().errnum, EINVAL);
        EXPECT_NE(d.error().text.find("invalid Flux standard duration"), std::string::npos);
    }
}

TEST(Duration, TimeLimit)
{
    // flux run -t: a bare number is minutes.
    EXPECT_DOUBLE_EQ(*job::parse_time_limit("5"), 300);
    EXPECT_DOUBLE_EQ(*job::parse_time_limit("1.5"), 90);
    EXPECT_DOUBLE_EQ(*job::parse_time_limit("5s"), 5);
    EXPECT_DOUBLE_EQ(*job::parse_time_limit("2h"), 7200);
    EXPECT_DOUBLE_EQ(*job::parse_time_limit("0"), 0);
    EXPECT_EQ(job::parse_time_limit("inf").error().text, "duration must be a normal, finite value");
    EXPECT_EQ(job::parse_time_limit("-5").error().text, "duration must not be negative");
    EXPECT_FALSE(job::parse_time_limit("5x"));
}

TEST(Duration, Format)
{
    EXPECT_EQ(job::format_duration(0), "0s");
    EXPECT_EQ(job::format_duration(0.05), "50ms");
    EXPECT_EQ(job::format_duration(1.5), "1.5s");
    EXPECT_EQ(job::format_duration(59), "59s");
    EXPECT_EQ(job::format_duration(90), "1.5m");
    EXPECT_EQ(job::format_duration(3600), "1h");
    EXPECT_EQ(job::format_duration(5400), "1.5h");
    EXPECT_EQ(job::format_duration(86400 * 2), "2d");
    EXPECT_EQ(job::format_duration(1.0 / 3), "0.333333s");
    EXPECT_EQ(job::format_duration(1.0 / 3, 2), "0.33s");
    EXPECT_EQ(job::format_duration(HUGE_VAL), "infinity");
    for (double d : {0.0, 0.25, 42.0, 150.0, 7200.0, 86400.0 * 3})
        EXPECT_DOUBLE_EQ(*job::parse_duration(job::format_duration(d)), d);
}

// --- YAML subset ---

TEST(Yaml, Scalars)
{
    auto j = parse_yaml(R"(# a comment
int: 42
neg: -7
plus: +3
big: 18446744073709551615
float: 3600.
exp: 1e3
frac: .5
str: hello world   # trailing comment
colon: a:b
url: http://example.com/x
hash: a#b
t: true
f: False
n: null
tilde: ~
empty:
yes: yes
sq: 'it''s # not a comment'
dq: "tab\there \"q\" \\ \/"
numstr: "42"
version: 1.2.3
)");
    ASSERT_TRUE(j) << j.error().text;
    EXPECT_EQ((*j)["int"], 42);
    EXPECT_TRUE((*j)["int"].is_number_integer());
    EXPECT_EQ((*j)["neg"], -7);
    EXPECT_EQ((*j)["plus"], 3);
    EXPECT_TRUE((*j)["big"].is_number_float());
    EXPECT_TRUE((*j)["float"].is_number_float());
    EXPECT_EQ((*j)["float"], 3600.0);
    EXPECT_EQ((*j)["exp"], 1000.0);
    EXPECT_EQ((*j)["frac"], 0.5);
    EXPECT_EQ((*j)["str"], "hello world");
    EXPECT_EQ((*j)["colon"], "a:b");
    EXPECT_EQ((*j)["url"], "http://example.com/x");
    EXPECT_EQ((*j)["hash"], "a#b");
    EXPECT_EQ((*j)["t"], true);
    EXPECT_EQ((*j)["f"], false);
    EXPECT_TRUE((*j)["n"].is_null());
    EXPECT_TRUE((*j)["tilde"].is_null());
    EXPECT_TRUE((*j)["empty"].is_null());
    EXPECT_EQ((*j)["yes"], "yes");  // YAML 1.2: a string
    EXPECT_EQ((*j)["sq"], "it's # not a comment");
    EXPECT_EQ((*j)["dq"], "tab\there \"q\" \\ /");
    EXPECT_EQ((*j)["numstr"], "42");
    EXPECT_EQ((*j)["version"], "1.2.3");
}

TEST(Yaml, Collections)
{
    auto j = parse_yaml(R"(---
list:
  - a
  - 2
  -
    - nested
  - key: v
    other: [1, "two", {x: y}]
compact:
- 1
- 2
flow: {a: 1, b: [x, y], "c d": null, e: }
"quoted key": 'v'
empty_list: []
empty_map: {}
...
)");
    ASSERT_TRUE(j) << j.error().text;
    EXPECT_EQ(*j, json::parse(R"({
        "list": ["a", 2, ["nested"], {"key": "v", "other": [1, "two", {"x": "y"}]}],
        "compact": [1, 2],
        "flow": {"a": 1, "b": ["x", "y"], "c d": null, "e": null},
        "quoted key": "v",
        "empty_list": [],
        "empty_map": {}
    })"));
    EXPECT_EQ(*parse_yaml("- 1\n- - 2\n  - 3\n"), json::parse("[1, [2, 3]]"));
    EXPECT_EQ(*parse_yaml("[a, b]  # c\n"), json::parse(R"(["a", "b"])"));
    EXPECT_TRUE(parse_yaml("")->is_null());
    EXPECT_TRUE(parse_yaml("# only a comment\n")->is_null());
    EXPECT_EQ(*parse_yaml("scalar"), "scalar");
    EXPECT_EQ(*parse_yaml("a: 1\r\nb: x  \r\n\r\n"), json::parse(R"({"a": 1, "b": "x"})"));  // CRLF
    // JSON is (mostly) YAML
    EXPECT_EQ(*parse_yaml(R"({"a": [1, 2.5, true, null], "b": "c"})"),
              json::parse(R"({"a": [1, 2.5, true, null], "b": "c"})"));
}

TEST(Yaml, JobspecExamples)
{
    auto j = parse_yaml(use_case_2_4_yaml);
    ASSERT_TRUE(j) << j.error().text;
    EXPECT_EQ(*j, json::parse(R"({"version": 1,
        "resources": [{"type": "node", "count": 4, "with": [{"type": "slot", "count": 4, "label": "default",
            "with": [{"type": "core", "count": 1}, {"type": "gpu", "count": 1}]}]}],
        "tasks": [{"command": ["myapp"], "slot": "default", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": 3600.0, "cwd": "/home/flux", "environment": {"HOME": "/home/flux"}}}
    })"));
    EXPECT_TRUE((*j)["attributes"]["system"]["duration"].is_number_float());

    // The RFC's use case 2.1 names the command as a plain string, which the
    // RFC 25 schema allows but flux-core's shell and Jobspec.py refuse.
    std::string s = use_case_2_1_yaml;
    s.replace(s.find("[ hostname ]"), 12, "hostname");
    auto js = Jobspec::from_json(*parse_yaml(s));
    ASSERT_FALSE(js);
    EXPECT_EQ(js.error().text, "jobspec: tasks[0].command must be a non-empty array of strings");
}

TEST(Yaml, Errors)
{
    struct {
        const char* text;
        const char* error;
    } bad[] = {
        {"a: 1\n\tb: 2\n", "yaml: line 2: tabs are not allowed in indentation"},
        {"a: 1\na: 2\n", "yaml: line 2: duplicate key 'a'"},
        {"a: &x 1\n", "yaml: line 1: anchors and aliases are not supported"},
        {"a: *x\n", "yaml: line 1: anchors and aliases are not supported"},
        {"a: !!str 1\n", "yaml: line 1: tags are not supported"},
        {"a: |\n  text\n", "yaml: line 1: block scalars (| and >) are not supported"},
        {"a: \"open\n", "yaml: line 1: unterminated quoted scalar"},
        {"a: [1, 2\n", "yaml: line 1: unterminated flow collection"},
        {"a: [1, 2] x\n", "yaml: line 1: unexpected text after a flow collection"},
        {"a: {b: 1, b: 2}\n", "yaml: line 1: duplicate key 'b'"},
        {"a: [1 2 3]]\n", "yaml: line 1: unexpected text after a flow collection"},
        {"a:\n  b: 1\n c: 2\n", "yaml: line 3: unexpected indentation or content"},
        {"a: 1\n  b: 2\n", "yaml: line 2: unexpected indentation"},
        {"a: b: c\n", "yaml: line 1: mapping values are not allowed here"},
        {"- a\nb: 1\n", "yaml: line 2: unexpected indentation or content"},
        {"a: 1\n---\nb: 2\n", "yaml: line 2: multiple YAML documents are not supported"},
        {"? complex\n", "yaml: line 1: complex keys are not supported"},
        {"a: \"\\q\"\n", "yaml: line 1: unsupported escape"},
        {"a: 'x' y\n", "yaml: line 1: unexpected text after a quoted scalar"},
        {"key\nother: 1\n", "yaml: line 2: unexpected indentation"},
    };
    for (const auto& b : bad) {
        auto r = parse_yaml(b.text);
        ASSERT_FALSE(r) << b.text << " -> " << r->dump();
        EXPECT_EQ(r.error().errnum, EINVAL);
        EXPECT_EQ(r.error().text.rfind(b.error, 0), 0u) << b.text << ": " << r.error().text;
    }
}
