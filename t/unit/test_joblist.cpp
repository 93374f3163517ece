// Unit tests for job-list (records from journal events, lists, constraints,
// stats, attribute encoding: src/modules/job-list/) and for the flux jobs
// side (JobInfo fields and the output format: cmd/jobinfo.cpp, cmd/format.cpp).
#include <gtest/gtest.h>

#include <malloc.h>

#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/jobid.hpp>

#include "cmd/format.hpp"
#include "cmd/jobinfo.hpp"
#include "modules/job-list/constraint.hpp"
#include "modules/job-list/index.hpp"

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using namespace flux::joblist;
using flux::JobResult;
using flux::JobState;

namespace {

constexpr double T0 = 1'700'000'000.0;

json jobspec(const std::string& cmd = "sleep", int ntasks = 1, int nnodes = 0, const std::string& queue = "")
{
    json slot = {{"type", "slot"}, {"count", ntasks}, {"label", "task"}, {"with", {{{"type", "core"}, {"count", 1}}}}};
    json resources = json::array({slot});
    if (nnodes > 0) {
        slot["count"] = ntasks / nnodes;
        resources = json::array({{{"type", "node"}, {"count", nnodes}, {"with", {slot}}}});
    }
    json js = {{"version", 1},
               {"resources", resources},
               {"tasks", {{{"command", {"/bin/" + cmd, "10"}}, {"slot", "task"}, {"count", {{"per_slot", 1}}}}}},
               {"attributes", {{"system", {{"duration", 0.0}, {"cwd", "/home/u"}}}}}};
    if (!queue.empty())
        js["attributes"]["system"]["queue"] = queue;
    return js;
}

json R(const std::string& ranks, const std::string& cores, const std::string& nodelist)
{
    return {{"version", 1},
            {"execution",
             {{"R_lite", {{{"rank", ranks}, {"children", {{"core", cores}}}}}},
              {"nodelist", {nodelist}},
              {"starttime", T0},
              {"expiration", T0 + 3600}}}};
}

json ev(double t, const std::string& name, json ctx = nullptr)
{
    json e = {{"timestamp", t}, {"name", name}};
    if (!ctx.is_null())
        e["context"] = ctx;
    return e;
}

// Drives one job through its events.
struct Driver {
    JobIndex idx;

    void submit(JobId id, double t, std::uint32_t uid = 100, const json& js = jobspec(), int urgency = 16)
    {
        ASSERT_TRUE(
            idx.apply(id, ev(t, "submit", {{"userid", uid}, {"urgency", urgency}, {"flags", 0}, {"version", 1}}), &js)
                .has_value());
        ASSERT_TRUE(idx.apply(id, ev(t, "validate")).has_value());
    }
    void to_sched(JobId id, double t, std::int64_t priority = 16)
    {
        ASSERT_TRUE(idx.apply(id, ev(t, "depend")).has_value());
        ASSERT_TRUE(idx.apply(id, ev(t, "priority", {{"priority", priority}})).has_value());
    }
    void run(JobId id, double t, const json& r = R("0", "0", "node0"))
    {
        ASSERT_TRUE(idx.apply(id, ev(t, "alloc"), nullptr, &r).has_value());
        ASSERT_TRUE(idx.apply(id, ev(t, "start")).has_value());
    }
    void finish(JobId id, double t, int status)
    {
        ASSERT_TRUE(idx.apply(id, ev(t, "finish", {{"status", status}})).has_value());
        ASSERT_TRUE(idx.apply(id, ev(t, "release", {{"ranks", "all"}, {"final", true}})).has_value());
        ASSERT_TRUE(idx.apply(id, ev(t, "free")).has_value());
        ASSERT_TRUE(idx.apply(id, ev(t, "clean")).has_value());
    }
    void exception(JobId id, double t, const std::string& type, int severity, const std::string& note = "")
    {
        ASSERT_TRUE(
            idx.apply(id, ev(t, "exception", {{"type", type}, {"severity", severity}, {"userid", 100}, {"note", note}}))
                .has_value());
    }
    std::vector<JobId> ids(const Constraint& c = Constraint(), size_t max = 0, double since = 0)
    {
        std::vector<JobId> v;
        for (const Job* j : idx.list(c, max, since))
            v.push_back(j->id);
        return v;
    }
};

Constraint constraint(const json& j)
{
    auto c = Constraint::parse(j);
    EXPECT_TRUE(c.has_value()) << j.dump() << ": " << (c ? "" : c.error().message());
    return c ? *c : Constraint();
}

json encode(const Job& job, std::vector<std::string> attrs = {"all"})
{
    std::string out;
    auto r = encode_job(job, attrs, out);
    EXPECT_TRUE(r.has_value());
    return json::parse(out);
}

}  // namespace

// ---------------------------------------------------------------- states

TEST(JobListState, CompletedLifeCycle)
{
    Driver d;
    d.submit(1, T0);
    const Job* j = d.idx.find(1);
    ASSERT_NE(j, nullptr);
    EXPECT_EQ(j->state, JobState::DEPEND);
    EXPECT_EQ(j->t_depend, T0);
    d.to_sched(1, T0 + 1);
    EXPECT_EQ(j->state, JobState::SCHED);
    EXPECT_EQ(j->priority, 16);
    d.run(1, T0 + 2, R("0-1", "0-3", "node[0-1]"));
    EXPECT_EQ(j->state, JobState::RUN);
    EXPECT_EQ(j->t_run, T0 + 2);
    EXPECT_EQ(j->nnodes, 2);
    EXPECT_EQ(j->ncores, 8);
    EXPECT_EQ(j->ranks, "[0-1]");
    EXPECT_EQ(j->nodelist, "node[0-1]");
    EXPECT_EQ(j->expiration, T0 + 3600);
    d.finish(1, T0 + 5, 0);
    EXPECT_EQ(j->state, JobState::INACTIVE);
    EXPECT_EQ(j->t_cleanup, T0 + 5);
    EXPECT_EQ(j->t_inactive, T0 + 5);
    EXPECT_TRUE(j->success);
    EXPECT_EQ(j->result, JobResult::COMPLETED);
    EXPECT_EQ(j->wait_status, 0);
}

TEST(JobListState, NonzeroExitFails)
{
    Driver d;
    d.submit(1, T0);
    d.to_sched(1, T0);
    d.run(1, T0);
    d.finish(1, T0 + 1, 256);
    EXPECT_EQ(d.idx.find(1)->result, JobResult::FAILED);
    EXPECT_FALSE(d.idx.find(1)->success);
}

TEST(JobListState, CancelWhilePendingGoesToCleanupThenCanceled)
{
    Driver d;
    d.submit(1, T0);
    d.to_sched(1, T0);
    d.exception(1, T0 + 1, "cancel", 0, "by user");
    const Job* j = d.idx.find(1);
    EXPECT_EQ(j->state, JobState::CLEANUP);
    EXPECT_EQ(j->t_cleanup, T0 + 1);
    EXPECT_FALSE(j->has(JobState::RUN));
    ASSERT_TRUE(d.idx.apply(1, ev(T0 + 2, "clean")).has_value());
    EXPECT_EQ(j->result, JobResult::CANCELED);
    EXPECT_EQ(j->exception_type, "cancel");
    EXPECT_EQ(j->exception_note, "by user");
}

TEST(JobListState, TimeoutAndOtherFatalExceptions)
{
    Driver d;
    d.submit(1, T0);
    d.to_sched(1, T0);
    d.run(1, T0);
    d.exception(1, T0 + 1, "timeout", 0, "resource allocation expired");
    d.finish(1, T0 + 2, 15);  // killed: finish after the exception keeps t_cleanup
    EXPECT_EQ(d.idx.find(1)->t_cleanup, T0 + 1);
    EXPECT_EQ(d.idx.find(1)->result, JobResult::TIMEOUT);

    d.submit(2, T0);
    d.to_sched(2, T0);
    d.run(2, T0);
    d.exception(2, T0 + 1, "exec", 0, "task 0: start failed");
    d.finish(2, T0 + 1, 0);  // a fatal exception means no success even with status 0
    EXPECT_FALSE(d.idx.find(2)->success);
    EXPECT_EQ(d.idx.find(2)->result, JobResult::FAILED);
}

TEST(JobListState, NonFatalExceptionKeepsRunningAndSucceeds)
{
    Driver d;
    d.submit(1, T0);
    d.to_sched(1, T0);
    d.run(1, T0);
    d.exception(1, T0 + 1, "test", 2, "warning");
    EXPECT_EQ(d.idx.find(1)->state, JobState::RUN);
    d.exception(1, T0 + 1, "other", 3, "less severe, ignored");
    EXPECT_EQ(d.idx.find(1)->exception_type, "test");
    d.finish(1, T0 + 2, 0);
    EXPECT_EQ(d.idx.find(1)->result, JobResult::COMPLETED);
    EXPECT_EQ(d.idx.find(1)->exception_severity, 2);
}

TEST(JobListState, PriorityOnlyMovesPriorityToSched)
{
    Driver d;
    d.submit(1, T0);
    d.to_sched(1, T0, 16);
    ASSERT_TRUE(d.idx.apply(1, ev(T0, "urgency", {{"userid", 100}, {"urgency", 0}})).has_value());
    ASSERT_TRUE(d.idx.apply(1, ev(T0, "priority", {{"priority", 0}})).has_value());
    EXPECT_EQ(d.idx.find(1)->state, JobState::SCHED);
    EXPECT_EQ(d.idx.find(1)->urgency, 0);
    EXPECT_EQ(d.idx.find(1)->priority, 0);
    // flux-restart: SCHED back to PRIORITY, then a priority event again
    ASSERT_TRUE(d.idx.apply(1, ev(T0, "flux-restart")).has_value());
    EXPECT_EQ(d.idx.find(1)->state, JobState::PRIORITY);
    EXPECT_FALSE(d.idx.find(1)->has(JobState::SCHED));
    ASSERT_TRUE(d.idx.apply(1, ev(T0, "priority", {{"priority", 5}})).has_value());
    EXPECT_EQ(d.idx.find(1)->state, JobState::SCHED);
}

TEST(JobListState, DependenciesAreAGrudgeSet)
{
    Driver d;
    d.submit(1, T0);
    auto dep = [&](const char* name, const char* desc) {
        ASSERT_TRUE(d.idx.apply(1, ev(T0, name, {{"description", desc}})).has_value());
    };
    dep("dependency-add", "afterok:f1");
    dep("dependency-add", "after:f2");
    dep("dependency-add", "after:f2");
    ASSERT_TRUE(d.idx.find(1)->deps);
    EXPECT_EQ(d.idx.find(1)->deps->current, (std::vector<std::string>{"afterok:f1", "after:f2"}));
    dep("dependency-remove", "afterok:f1");
    dep("dependency-add", "afterok:f1");  // once removed, never again
    EXPECT_EQ(d.idx.find(1)->deps->current, (std::vector<std::string>{"after:f2"}));
    EXPECT_EQ(encode(*d.idx.find(1), {"dependencies"})["dependencies"], json::array({"after:f2"}));
}

TEST(JobListState, AnnotationsAndMemo)
{
    Driver d;
    d.submit(1, T0);
    d.to_sched(1, T0);
    ASSERT_TRUE(d.idx
                    .apply(1, ev(T0, "annotations",
                                 {{"annotations", {{"sched", {{"reason_pending", "insufficient resources"}}}}}}))
                    .has_value());
    EXPECT_EQ(json::parse(d.idx.find(1)->annotations)["sched"]["reason_pending"], "insufficient resources");
    ASSERT_TRUE(d.idx.apply(1, ev(T0, "memo", {{"uri", "local:///tmp/x"}})).has_value());
    auto a = json::parse(d.idx.find(1)->annotations);
    EXPECT_EQ(a["user"]["uri"], "local:///tmp/x");
    EXPECT_TRUE(a.contains("sched"));
    ASSERT_TRUE(d.idx.apply(1, ev(T0, "annotations", {{"annotations", nullptr}})).has_value());
    EXPECT_EQ(d.idx.find(1)->annotations, "");
    // alloc carries the scheduler's annotations in this job manager
    json r = R("0", "0", "n0");
    ASSERT_TRUE(d.idx
                    .apply(1, ev(T0, "alloc", {{"annotations", {{"sched", {{"resource_summary", "rank0/core0"}}}}}}),
                           nullptr, &r)
                    .has_value());
    EXPECT_EQ(json::parse(d.idx.find(1)->annotations)["sched"]["resource_summary"], "rank0/core0");
}

TEST(JobListState, ReplayedSubmitStartsOverAndInvalidateRemoves)
{
    Driver d;
    d.submit(1, T0);
    d.to_sched(1, T0);
    d.run(1, T0);
    EXPECT_EQ(d.idx.stats().state_count[4], 1);  // run
    d.submit(1, T0);                             // the journal replayed from the start
    EXPECT_EQ(d.idx.find(1)->state, JobState::DEPEND);
    EXPECT_EQ(d.idx.stats().state_count[4], 0);
    EXPECT_EQ(d.idx.stats().state_count[1], 1);
    EXPECT_EQ(d.idx.running_count(), 0u);
    EXPECT_EQ(d.idx.pending_count(), 1u);
    ASSERT_TRUE(d.idx.apply(1, ev(T0, "invalidate")).has_value());
    EXPECT_EQ(d.idx.find(1), nullptr);
    EXPECT_EQ(d.idx.stats().state_count[1], 0);
    // events for a job never submitted are ignored
    EXPECT_TRUE(d.idx.apply(99, ev(T0, "clean")).has_value());
    EXPECT_EQ(d.idx.size(), 0u);
}

TEST(JobListState, MalformedEntriesAreErrorsNotCrashes)
{
    Driver d;
    d.submit(1, T0);
    EXPECT_FALSE(d.idx.apply(json("garbage")).has_value());
    EXPECT_FALSE(d.idx.apply(json{{"id", -1}, {"entry", ev(T0, "submit")}}).has_value());
    EXPECT_FALSE(d.idx.apply(json{{"id", 2}}).has_value());
    EXPECT_FALSE(d.idx.apply(2, json{{"name", "submit"}}).has_value());
    EXPECT_FALSE(d.idx.apply(2, ev(T0, "submit", {{"userid", "x"}})).has_value());
    EXPECT_FALSE(d.idx.apply(1, ev(T0, "priority", {{"priority", "high"}})).has_value());
    EXPECT_FALSE(d.idx.apply(1, ev(T0, "finish")).has_value());
    EXPECT_FALSE(d.idx.apply(1, ev(T0, "exception", {{"severity", 0}})).has_value());
    EXPECT_FALSE(d.idx.apply(1, ev(T0, "urgency", {{"urgency", 99}})).has_value());
    EXPECT_FALSE(d.idx.apply(1, ev(T0, "annotations", {{"annotations", 5}})).has_value());
    EXPECT_FALSE(d.idx.apply(1, ev(T0, "dependency-add", {{"description", 1}})).has_value());
    EXPECT_EQ(d.idx.find(1)->state, JobState::DEPEND);
    // a bad R or jobspec gives what can be had
    json badR = {{"version", 2}};
    json badjs = {{"tasks", {{{"command", {"/x/y/prog"}}}}}};
    ASSERT_TRUE(d.idx.apply(3, ev(T0, "submit", {{"userid", 1}, {"urgency", 16}}), &badjs).has_value());
    EXPECT_EQ(d.idx.find(3)->spec->name, "prog");
    EXPECT_EQ(d.idx.find(3)->ntasks, -1);
    ASSERT_TRUE(d.idx.apply(3, ev(T0, "alloc"), nullptr, &badR).has_value());
    EXPECT_EQ(d.idx.find(3)->nnodes, -1);
    // the journal record form
    EXPECT_TRUE(d.idx
                    .apply(json{{"id", 4},
                                {"entry", ev(T0, "submit", {{"userid", 1}, {"urgency", 16}})},
                                {"jobspec", jobspec("hostname")}})
                    .has_value());
    EXPECT_EQ(d.idx.find(4)->spec->name, "hostname");
}

// ---------------------------------------------------------------- lists

TEST(JobListOrder, PendingRunningInactiveAsFluxCore)
{
    Driver d;
    // pending: priority high to low, then id low to high
    d.submit(10, T0);
    d.to_sched(10, T0, 16);
    d.submit(11, T0);
    d.to_sched(11, T0, 20);
    d.submit(12, T0);
    d.to_sched(12, T0, 16);
    d.submit(13, T0);  // DEPEND: no priority yet, listed after
    // running: most recent t_run first
    for (JobId id : {20, 21, 22}) {
        d.submit(id, T0);
        d.to_sched(id, T0);
    }
    d.run(20, T0 + 1);
    d.run(21, T0 + 3);
    d.run(22, T0 + 2);
    // inactive: most recent t_inactive first
    for (JobId id : {30, 31, 32}) {
        d.submit(id, T0);
        d.to_sched(id, T0);
        d.run(id, T0);
    }
    d.finish(30, T0 + 10, 0);
    d.finish(31, T0 + 12, 0);
    d.finish(32, T0 + 11, 0);
    EXPECT_EQ(d.ids(), (std::vector<JobId>{11, 10, 12, 13, 21, 22, 20, 31, 32, 30}));
    // priority changes reorder the pending list
    ASSERT_TRUE(d.idx.apply(12, ev(T0, "priority", {{"priority", 4294967295LL}})).has_value());
    EXPECT_EQ(d.ids(constraint({{"states", {"pending"}}})), (std::vector<JobId>{12, 11, 10, 13}));
    // max_entries and since
    EXPECT_EQ(d.ids(Constraint(), 3), (std::vector<JobId>{12, 11, 10}));
    EXPECT_EQ(d.ids(constraint({{"states", {"inactive"}}}), 0, T0 + 10), (std::vector<JobId>{31, 32}));
    // a job canceled while pending is listed with the running ones (CLEANUP)
    d.exception(13, T0 + 20, "cancel", 0);
    EXPECT_EQ(d.ids(constraint({{"states", {"running"}}})), (std::vector<JobId>{21, 22, 20, 13}));
}

TEST(JobListConstraint, Operators)
{
    Driver d;
    d.submit(1, T0, 100, jobspec("sleep", 1, 0, "batch"));
    d.to_sched(1, T0);
    d.submit(2, T0 + 1, 200, jobspec("hostname"));
    d.to_sched(2, T0 + 1);
    d.run(2, T0 + 2, R("3-4", "0", "node[3-4]"));
    d.submit(3, T0 + 2, 100, jobspec("true"));
    d.to_sched(3, T0 + 2);
    d.run(3, T0 + 3);
    d.finish(3, T0 + 4, 1);
    d.submit(4, T0 + 3, 100, jobspec("true"));
    d.to_sched(4, T0 + 3);
    d.exception(4, T0 + 4, "cancel", 0);
    ASSERT_TRUE(d.idx.apply(4, ev(T0 + 5, "clean")).has_value());

    auto ids = [&](const json& c) { return d.ids(constraint(c)); };
    EXPECT_EQ(ids(nullptr).size(), 4u);
    EXPECT_EQ(ids({{"userid", {200}}}), (std::vector<JobId>{2}));
    EXPECT_EQ(ids({{"userid", {0xFFFFFFFFu}}}).size(), 4u);
    EXPECT_EQ(ids({{"name", {"true"}}}), (std::vector<JobId>{4, 3}));
    EXPECT_EQ(ids({{"queue", {"batch"}}}), (std::vector<JobId>{1}));
    EXPECT_EQ(ids({{"states", {8}}}), (std::vector<JobId>{1}));
    EXPECT_EQ(ids({{"states", {"run", "sched"}}}), (std::vector<JobId>{1, 2}));
    EXPECT_EQ(ids({{"results", {"failed"}}}), (std::vector<JobId>{3}));
    EXPECT_EQ(ids({{"results", {4}}}), (std::vector<JobId>{4}));
    EXPECT_EQ(ids({{"or", {{{"states", {"pending"}}}, {{"results", {"canceled"}}}}}}), (std::vector<JobId>{1, 4}));
    EXPECT_EQ(ids({{"and", {{{"userid", {100}}}, {{"not", {{{"name", {"true"}}}}}}}}}), (std::vector<JobId>{1}));
    EXPECT_EQ(ids({{"and", json::array()}}).size(), 4u);
    EXPECT_EQ(ids({{"or", json::array()}}).size(), 4u);
    EXPECT_EQ(ids({{"hostlist", {"node4"}}}), (std::vector<JobId>{2}));
    EXPECT_EQ(ids({{"hostlist", {"node[0,9]"}}}), (std::vector<JobId>{3}));
    EXPECT_EQ(ids({{"ranks", {"4"}}}), (std::vector<JobId>{2}));
    EXPECT_EQ(ids({{"t_submit", {">=" + std::to_string(T0 + 2)}}}), (std::vector<JobId>{4, 3}));
    EXPECT_EQ(ids({{"t_inactive", {"<" + std::to_string(T0 + 5)}}}), (std::vector<JobId>{3}));
    EXPECT_EQ(ids({{"t_run", {">0"}}}), (std::vector<JobId>{2, 3}));

    for (json bad : {json{{"bogus", {1}}}, json{{"userid", {"x"}}}, json{{"userid", 1}}, json{{"states", {"nope"}}},
                     json{{"results", {64}}}, json{{"name", {1}}}, json{{"t_run", {"5"}}}, json{{"t_run", {">x"}}},
                     json{{"t_run", {"<-1"}}}, json{{"hostlist", {"a["}}}, json{{"and", {1}}}, json(5),
                     json{{"userid", {1}}, {"name", {"a"}}}}) {
        auto c = Constraint::parse(bad);
        EXPECT_FALSE(c.has_value()) << bad.dump();
        if (!c) {
            EXPECT_EQ(c.error().errnum, EPROTO);
        }
    }
    EXPECT_EQ(constraint({{"states", {"inactive"}}}).possible_states(), 64u);
    EXPECT_EQ(constraint({{"results", {1}}}).possible_states(), 64u);
    EXPECT_EQ(constraint({{"and", {{{"states", {"pending"}}}, {{"userid", {1}}}}}}).possible_states(), 14u);
    EXPECT_EQ(constraint({{"not", {{{"states", {"pending"}}}}}}).possible_states(), 127u);
}

// ---------------------------------------------------------------- stats

TEST(JobListStats, CountsAsFluxCore)
{
    Driver d;
    d.submit(1, T0, 1, jobspec("a", 1, 0, "debug"));
    d.to_sched(1, T0);
    d.submit(2, T0);
    d.to_sched(2, T0);
    d.run(2, T0);
    d.finish(2, T0, 0);
    d.submit(3, T0);
    d.exception(3, T0, "cancel", 0);
    ASSERT_TRUE(d.idx.apply(3, ev(T0, "clean")).has_value());
    d.submit(4, T0);
    d.to_sched(4, T0);
    d.run(4, T0);
    d.exception(4, T0, "timeout", 0);
    d.finish(4, T0, 9);
    d.submit(5, T0, 1, jobspec("a", 1, 0, "debug"));
    d.to_sched(5, T0);
    d.run(5, T0);
    d.finish(5, T0, 256);

    json s = json::parse(d.idx.stats_json());
    EXPECT_EQ(
        s["job_states"],
        (json{
            {"depend", 0}, {"priority", 0}, {"sched", 1}, {"run", 0}, {"cleanup", 0}, {"inactive", 4}, {"total", 5}}));
    EXPECT_EQ(s["successful"], 1);
    EXPECT_EQ(s["failed"], 1);
    EXPECT_EQ(s["canceled"], 1);
    EXPECT_EQ(s["timeout"], 1);
    EXPECT_EQ(s["inactive_purged"], 0);
    ASSERT_EQ(s["queues"].size(), 1u);
    EXPECT_EQ(s["queues"][0]["name"], "debug");
    EXPECT_EQ(s["queues"][0]["job_states"]["total"], 2);
    EXPECT_EQ(s["queues"][0]["failed"], 1);

    EXPECT_FALSE(d.idx.purge(1));  // active
    EXPECT_TRUE(d.idx.purge(5));
    s = json::parse(d.idx.stats_json());
    EXPECT_EQ(s["job_states"]["inactive"], 3);
    EXPECT_EQ(s["failed"], 0);
    EXPECT_EQ(s["inactive_purged"], 1);
    EXPECT_EQ(s["queues"][0]["inactive_purged"], 1);
    EXPECT_EQ(d.idx.find(5), nullptr);
}

// ---------------------------------------------------------------- encoding

TEST(JobListEncode, AttributesFollowTheState)
{
    Driver d;
    d.submit(1, T0, 100, jobspec("sleep", 4, 2));
    json j = encode(*d.idx.find(1));
    EXPECT_EQ(j["id"], 1);
    EXPECT_EQ(j["userid"], 100);
    EXPECT_EQ(j["urgency"], 16);
    EXPECT_EQ(j["state"], 2);
    EXPECT_EQ(j["name"], "sleep");
    EXPECT_EQ(j["cwd"], "/home/u");
    EXPECT_EQ(j["ntasks"], 4);
    EXPECT_EQ(j["ncores"], 4);
    EXPECT_EQ(j["nnodes"], 2);
    EXPECT_EQ(j["duration"], 0.0);
    EXPECT_EQ(j["t_submit"], T0);
    EXPECT_EQ(j["t_depend"], T0);
    for (const char* absent :
         {"priority", "t_run", "t_cleanup", "t_inactive", "ranks", "nodelist", "success", "exception_occurred",
          "result", "expiration", "waitstatus", "annotations", "dependencies", "queue"})
        EXPECT_FALSE(j.contains(absent)) << absent;
    d.to_sched(1, T0);
    d.run(1, T0 + 1, R("0-1", "0-1", "n[0-1]"));
    d.finish(1, T0 + 2, 0);
    j = encode(*d.idx.find(1));
    EXPECT_EQ(j["priority"], 16);
    EXPECT_EQ(j["t_run"], T0 + 1);
    EXPECT_EQ(j["ranks"], "[0-1]");
    EXPECT_EQ(j["nodelist"], "n[0-1]");
    EXPECT_EQ(j["expiration"], T0 + 3600);
    EXPECT_EQ(j["success"], true);
    EXPECT_EQ(j["exception_occurred"], false);
    EXPECT_FALSE(j.contains("exception_type"));
    EXPECT_EQ(j["result"], 1);
    EXPECT_EQ(j["waitstatus"], 0);
    EXPECT_EQ(j["state"], 64);

    j = encode(*d.idx.find(1), {"state", "name"});
    EXPECT_EQ(j, (json{{"id", 1}, {"state", 64}, {"name", "sleep"}}));
    std::string out;
    auto bad = encode_job(*d.idx.find(1), {"bogus"}, out);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().errnum, EINVAL);
    EXPECT_EQ(bad.error().message(), "bogus is not a valid attribute");
    EXPECT_EQ(json_real(3), "3.0");
    EXPECT_EQ(json_real(2.5), "2.5");
}

TEST(JobListEncode, JobspecReduction)
{
    auto s = reduce_jobspec(jobspec("sleep", 6, 3));
    EXPECT_EQ(s->name, "sleep");
    EXPECT_EQ(s->ntasks, 6);
    EXPECT_EQ(s->ncores, 6);
    EXPECT_EQ(s->nnodes, 3);
    json js = jobspec("sleep");
    js["attributes"]["system"]["job"] = {{"name", "myjob"}};
    js["attributes"]["system"]["duration"] = 60.0;
    js["tasks"][0]["command"][0] = "dir/";
    EXPECT_EQ(reduce_jobspec(js)->name, "myjob");
    EXPECT_EQ(reduce_jobspec(js)->duration, 60.0);
    js["attributes"]["system"].erase("job");
    EXPECT_EQ(reduce_jobspec(js)->name, "dir/");
    // exclusive nodes: cores known only from R; per-resource node: tasks from R
    json x = jobspec("a", 2, 2);
    x["resources"][0]["exclusive"] = true;
    x["attributes"]["system"]["shell"] = {{"options", {{"per-resource", {{"type", "node"}, {"count", 3}}}}}};
    auto xs = reduce_jobspec(x);
    EXPECT_EQ(xs->ncores, -1);
    EXPECT_EQ(xs->ntasks, 6);
    json y = jobspec("a", 2);
    y["attributes"]["system"]["shell"] = {{"options", {{"per-resource", {{"type", "node"}, {"count", 2}}}}}};
    Job job;
    job.set_spec(reduce_jobspec(y));
    EXPECT_EQ(job.ntasks, -1);
    job.set_R(*reduce_R(R("0-2", "0-1", "n[0-2]")));
    EXPECT_EQ(job.ntasks, 6);
    EXPECT_EQ(job.ncores, 6);
}

TEST(JobListMemory, TenThousandJobsStayUnderBudget)
{
    EXPECT_LE(sizeof(Job), 400u);
    std::vector<json> specs;
    for (int i = 0; i < 10; i++)
        specs.push_back(jobspec(fmt::format("app{}", i), 4));
    json r = R("0-3", "0-7", "node[0-3]");
    auto before = mallinfo2().uordblks;
    {
        JobIndex idx;
        for (JobId id = 1; id <= 10000; id++) {
            const json& js = specs[id % specs.size()];
            double t = T0 + static_cast<double>(id);
            ASSERT_TRUE(idx.apply(id, ev(t, "submit", {{"userid", 100}, {"urgency", 16}, {"version", 1}}), &js));
            ASSERT_TRUE(idx.apply(id, ev(t, "validate")));
            ASSERT_TRUE(idx.apply(id, ev(t, "depend")));
            ASSERT_TRUE(idx.apply(id, ev(t, "priority", {{"priority", 16}})));
            ASSERT_TRUE(idx.apply(
                id, ev(t, "alloc", {{"annotations", {{"sched", {{"resource_summary", "rank[0-3]/core[0-7]"}}}}}}),
                nullptr, &r));
            if (id % 2) {
                ASSERT_TRUE(idx.apply(id, ev(t + 1, "finish", {{"status", 0}})));
                ASSERT_TRUE(idx.apply(id, ev(t + 1, "clean")));
            }
        }
        auto used = mallinfo2().uordblks - before;
        EXPECT_LT(used, 10u << 20) << "bytes for 10,000 jobs: " << used;
        RecordProperty("bytes_per_job", static_cast<int>(used / 10000));
        EXPECT_EQ(idx.list(Constraint()).size(), 10000u);
    }
}

// ---------------------------------------------------------------- flux jobs

namespace {

using flux::cmd::FieldValue;
using flux::cmd::JobInfo;
using flux::cmd::OutputFormat;
using flux::cmd::Row;

constexpr double NOW = T0 + 1000;

JobInfo info(ojson j)
{
    if (!j.contains("id"))
        j["id"] = 42;
    auto r = JobInfo::from_json(j);
    EXPECT_TRUE(r.has_value());
    return r ? *r : JobInfo();
}

std::string str(const FieldValue& v)
{
    return flux::cmd::py_str(v);
}

const char* default_format =
    "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} {status_abbrev:>2.2} {ntasks:>6} {nnodes:>6h} "
    "{contextual_time!F:>8h} {contextual_info}";

}  // namespace

TEST(FluxJobs, ContextualInfoAndTime)
{
    using flux::cmd::job_contextual_info;
    using flux::cmd::job_contextual_time;
    EXPECT_EQ(job_contextual_info(info({{"state", 4}}), NOW), "priority-wait");
    EXPECT_EQ(job_contextual_info(info({{"state", 2}, {"dependencies", {"afterok:f1", "after:f2"}}}), NOW),
              "depends:afterok:f1,after:f2");
    EXPECT_EQ(job_contextual_info(info({{"state", 8}, {"urgency", 0}, {"priority", 0}}), NOW), "held");
    EXPECT_EQ(job_contextual_info(info({{"state", 8}, {"urgency", 16}, {"priority", 0}}), NOW), "priority-hold");
    EXPECT_EQ(job_contextual_info(info({{"state", 8}, {"urgency", 16}, {"priority", 16}}), NOW), "");
    // The scheduler's reason for a pending job, unless it is held.
    auto blocked = [](int urgency) {
        return info({{"state", 8},
                     {"urgency", urgency},
                     {"priority", urgency},
                     {"annotations", {{"sched", {{"reason_pending", "insufficient resources"}}}}}});
    };
    EXPECT_EQ(job_contextual_info(blocked(16), NOW), "insufficient resources");
    EXPECT_EQ(job_contextual_info(blocked(0), NOW), "held");
    EXPECT_EQ(job_contextual_info(
                  info({{"state", 8}, {"urgency", 16}, {"annotations", {{"sched", {{"t_estimate", NOW + 90}}}}}}), NOW),
              "eta:1.5m");
    EXPECT_EQ(job_contextual_info(
                  info({{"state", 8}, {"urgency", 16}, {"annotations", {{"sched", {{"t_estimate", NOW - 1}}}}}}), NOW),
              "eta:now");
    EXPECT_EQ(job_contextual_info(info({{"state", 16}, {"nodelist", "node[0-3]"}}), NOW), "node[0-3]");
    EXPECT_EQ(job_contextual_info(info({{"state", 64}, {"nodelist", "n1"}}), NOW), "n1");
    EXPECT_EQ(job_contextual_info(info({{"state", 64}}), NOW), "");

    EXPECT_EQ(str(job_contextual_time(info({{"state", 8}, {"duration", 60.0}}), NOW)), "60.0");
    EXPECT_EQ(str(job_contextual_time(info({{"state", 16}, {"t_run", NOW - 5}}), NOW)), "5.0");
    EXPECT_EQ(str(job_contextual_time(info({{"state", 64}, {"t_run", T0}, {"t_cleanup", T0 + 2.5}}), NOW)), "2.5");
    EXPECT_EQ(str(job_contextual_time(info({{"state", 64}}), NOW)), "0.0");
}

TEST(FluxJobs, StatusReturncodeAndReason)
{
    using flux::cmd::job_field;
    using flux::cmd::job_inactive_reason;
    using flux::cmd::job_returncode;
    auto field = [](const JobInfo& j, const char* f) { return str(job_field(j, f, NOW)); };
    JobInfo run = info({{"state", 16}});
    EXPECT_EQ(field(run, "status"), "RUN");
    EXPECT_EQ(field(run, "status_abbrev"), "R");
    EXPECT_EQ(field(run, "state_single"), "R");
    EXPECT_EQ(field(run, "result"), "");
    EXPECT_EQ(field(run, "returncode"), "");
    JobInfo cd = info({{"state", 64}, {"result", 1}, {"waitstatus", 0}, {"success", true}});
    EXPECT_EQ(field(cd, "status"), "COMPLETED");
    EXPECT_EQ(field(cd, "status_abbrev"), "CD");
    EXPECT_EQ(field(cd, "success"), "True");
    EXPECT_EQ(job_inactive_reason(cd), "Exit 0");
    JobInfo f = info({{"state", 64}, {"result", 2}, {"waitstatus", 3 << 8}});
    EXPECT_EQ(field(f, "returncode"), "3");
    EXPECT_EQ(job_inactive_reason(f), "Exit 3");
    EXPECT_EQ(job_inactive_reason(info({{"state", 64}, {"result", 2}, {"waitstatus", 127 << 8}})), "command not found");
    EXPECT_EQ(job_inactive_reason(info({{"state", 64}, {"result", 2}, {"waitstatus", 137 << 8}})), strsignal(9));
    EXPECT_EQ(field(info({{"state", 64}, {"result", 2}, {"waitstatus", 9}}), "returncode"), "-9");
    JobInfo ca = info({{"state", 64},
                       {"result", 4},
                       {"exception_occurred", true},
                       {"exception_severity", 0},
                       {"exception_type", "cancel"},
                       {"exception_note", "by admin"}});
    EXPECT_EQ(field(ca, "returncode"), "-128");
    EXPECT_EQ(field(ca, "status_abbrev"), "CA");
    EXPECT_EQ(job_inactive_reason(ca), "Canceled: by admin");
    JobInfo ex = info({{"state", 64},
                       {"result", 2},
                       {"exception_occurred", true},
                       {"exception_severity", 0},
                       {"exception_type", "alloc"},
                       {"exception_note", "denied"}});
    EXPECT_EQ(field(ex, "returncode"), "1");
    EXPECT_EQ(job_inactive_reason(ex), "Exception: type=alloc note=denied");
    EXPECT_EQ(field(ex, "exception.type"), "alloc");
    EXPECT_EQ(job_inactive_reason(info({{"state", 64}, {"result", 8}})), "Timeout");
    EXPECT_EQ(field(info({{"state", 16}, {"t_run", NOW - 10}, {"expiration", NOW + 50}}), "t_remaining"), "50.0");
    EXPECT_EQ(field(info({{"id", 1234}}), "id.dec"), "1234");
    EXPECT_EQ(field(info({{"id", 1234}}), "id.hex"), "0x4d2");
    EXPECT_EQ(field(info({{"annotations", {{"sched", {{"reason_pending", "no"}, {"n", 3}}}}}}),
                    "annotations.sched.reason_pending"),
              "no");
    EXPECT_EQ(field(info({{"annotations", {{"sched", {{"n", 3}}}}}}), "sched.n"), "3");
    EXPECT_EQ(field(info({{"annotations", {{"sched", {{"n", 3}}}}}}), "annotations"), R"({"sched": {"n": 3}})");
    EXPECT_EQ(field(info({}), "annotations.sched.missing"), "");
}

TEST(FluxJobs, FieldsToAttrs)
{
    auto a = flux::cmd::job_fields_to_attrs({"id.f58", "username", "contextual_time", "sched.reason_pending"});
    EXPECT_EQ(a, (std::set<std::string>{"userid", "state", "t_run", "t_cleanup", "duration", "annotations"}));
    EXPECT_EQ(flux::cmd::job_heading("contextual_info"), "INFO");
    EXPECT_EQ(flux::cmd::job_heading("annotations.user.foo"), "USER.FOO");
    EXPECT_EQ(flux::cmd::job_heading("sched.foo"), "SCHED.FOO");
    EXPECT_FALSE(flux::cmd::job_heading("bogus").has_value());
}

TEST(FluxJobs, DefaultFormatRows)
{
    auto fmt_ = OutputFormat::parse(default_format, flux::cmd::job_heading);
    ASSERT_TRUE(fmt_.has_value());
    std::string f58 = flux::encode_jobid(42, flux::JobIdEncoding::f58);
    std::vector<JobInfo> jobs = {
        info({{"userid", 4242424},
              {"state", 16},
              {"name", "sleep"},
              {"ntasks", 4},
              {"nnodes", 2},
              {"t_run", NOW - 65},
              {"nodelist", "node[0-1]"}}),
        info({{"userid", 4242424},
              {"state", 8},
              {"name", "averyverylongname"},
              {"ntasks", 1},
              {"urgency", 0},
              {"priority", 0}}),
        info({{"userid", 4242424},
              {"state", 64},
              {"result", 2},
              {"name", "false"},
              {"ntasks", 1},
              {"nnodes", 1},
              {"t_run", T0},
              {"t_cleanup", T0 + 0.0123},
              {"nodelist", "node0"}}),
    };
    std::vector<Row> rows;
    for (const auto& j : jobs)
        rows.push_back(flux::cmd::job_row(j, fmt_->fields(), NOW));
    OutputFormat f = fmt_->filter(rows);
    EXPECT_EQ(f.header(), "       JOBID USER     NAME       ST NTASKS NNODES     TIME INFO");
    std::string id = fmt::format("{:>12}", f58);
    EXPECT_EQ(f.format(rows[0]), id + " 4242424  sleep       R      4      2   1.083m node[0-1]");
    EXPECT_EQ(f.format(rows[1]), id + " 4242424  averyvery+  S      1      -        - held");
    EXPECT_EQ(f.format(rows[2]), id + " 4242424  false       F      1      1   0.012s node0");

    // a queue column appears when some job has a queue; long user names widen USER
    rows[0]["queue"] = std::string("batch");
    rows[1]["username"] = std::string("averylongusername");
    OutputFormat g = fmt_->filter(rows);
    EXPECT_EQ(g.header(), "       JOBID QUEUE    USER              NAME       ST NTASKS NNODES     TIME INFO");
    EXPECT_EQ(g.format(rows[1]), id + "          averylongusername averyvery+  S      1      -        - held");
    EXPECT_EQ(g.format(rows[0]), id + " batch    4242424           sleep       R      4      2   1.083m node[0-1]");
}

TEST(FluxJobs, OutputFormatConversions)
{
    using flux::cmd::fsd;
    using flux::cmd::hms;
    EXPECT_EQ(fsd(0), "0s");
    EXPECT_EQ(fsd(0.0005), "0s");
    EXPECT_EQ(fsd(1.25), "1.250s");
    EXPECT_EQ(fsd(12.5), "12.5s");
    EXPECT_EQ(fsd(90), "1.5m");
    EXPECT_EQ(fsd(7200), "2h");
    EXPECT_EQ(fsd(86400 * 3), "3d");
    EXPECT_EQ(fsd(1.0 / 0.0), "inf");
    EXPECT_EQ(hms(0), "0:00:00");
    EXPECT_EQ(hms(0.2), "0:00:01");
    EXPECT_EQ(hms(65.4), "0:01:05");
    EXPECT_EQ(hms(2.5), "0:00:02");  // round half to even, as Python
    EXPECT_EQ(hms(90000), "1 day, 1:00:00");
    EXPECT_EQ(hms(2 * 86400), "2 days, 0:00:00");

    std::map<std::string, std::string> fields = {{"a", "A"}, {"t", "T"}, {"n", "N"}, {"s", "S"}};
    auto fm = [&](const std::string& f, const Row& r) {
        auto o = OutputFormat::parse(f, fields);
        EXPECT_TRUE(o.has_value()) << f;
        return o ? o->format(r, false) : std::string();
    };
    EXPECT_EQ(fm("{t!F:>8h}", {{"t", 0.0}}), "       -");
    EXPECT_EQ(fm("{t!F}", {{"t", 3.0}}), "3.000s");
    EXPECT_EQ(fm("{t!H:>10}", {{"t", 3725.0}}), "   1:02:05");
    EXPECT_EQ(fm("{t!D}", {{"t", 0.0}}), "");
    EXPECT_EQ(fm("{t!D:h}", {{"t", 0.0}}), "-");
    EXPECT_EQ(fm("{t!d:%Y::>6h}", {{"t", 0.0}}), "     -");
    EXPECT_EQ(fm("{t!P}", {{"t", 0.5}}), "50%");
    EXPECT_EQ(fm("{t!P}", {{"t", 0.005}}), "0.50%");
    EXPECT_EQ(fm("{n:>4h}", {{"n", 0LL}}), "   0");  // 0 is not empty, "" is
    EXPECT_EQ(fm("{n:>4h}", {{"n", std::string()}}), "   -");
    EXPECT_EQ(fm("{n:>5}", {{"n", 2.0}}), "  2.0");
    EXPECT_EQ(fm("{n}", {{"n", 7LL}}), "7");
    EXPECT_EQ(fm("{n:04d}", {{"n", 7LL}}), "0007");
    EXPECT_EQ(fm("{s:<5.5+}|", {{"s", std::string("abcdefgh")}}), "abcd+|");
    EXPECT_EQ(fm("{s:<5.5+}|", {{"s", std::string("abc")}}), "abc  |");
    EXPECT_EQ(fm("{s:^7}|", {{"s", std::string("ƒab")}}), "  ƒab  |");
    EXPECT_EQ(fm("{s:*>5}", {{"s", std::string("x")}}), "****x");
    EXPECT_EQ(fm("{{{s}}}", {{"s", std::string("x")}}), "{x}");
    EXPECT_FALSE(OutputFormat::parse("{bogus}", fields).has_value());
    EXPECT_FALSE(OutputFormat::parse("{a!Z}", fields).has_value());
    EXPECT_FALSE(OutputFormat::parse("{a", fields).has_value());
    EXPECT_FALSE(OutputFormat::parse("a}", fields).has_value());

    // ?: drops an all-empty column with its leading text; +: widens
    auto o = OutputFormat::parse("{a} ?:{s:<3} +:{n:<2.2}|", fields);
    ASSERT_TRUE(o.has_value());
    std::vector<Row> rows = {{{"a", std::string("x")}, {"s", std::string()}, {"n", std::string("abcdef")}}};
    OutputFormat f = o->filter(rows);
    EXPECT_EQ(f.header(), "A N     |");
    EXPECT_EQ(f.format(rows[0]), "x abcdef|");

    // sort: prefix and --sort keys
    auto so = OutputFormat::parse("sort:-n,s {s}", fields);
    ASSERT_TRUE(so.has_value());
    ASSERT_EQ(so->sort_keys().size(), 2u);
    std::vector<Row> sr = {{{"n", 1LL}, {"s", std::string("b")}},
                           {{"n", 2LL}, {"s", std::string("c")}},
                           {{"n", 1LL}, {"s", std::string("a")}}};
    so->sort(sr);
    EXPECT_EQ(std::get<std::string>(sr[0]["s"]), "c");
    EXPECT_EQ(std::get<std::string>(sr[1]["s"]), "a");
    EXPECT_EQ(std::get<std::string>(sr[2]["s"]), "b");
    EXPECT_FALSE(so->set_sort_keys("nope").has_value());
}

TEST(FluxJobs, JsonLikeFluxCore)
{
    JobInfo j = info({{"id", 7},
                      {"userid", 4242424},
                      {"urgency", 16},
                      {"priority", 16},
                      {"state", 64},
                      {"result", 1},
                      {"name", "true"},
                      {"ntasks", 1},
                      {"t_submit", 10.0},
                      {"t_depend", 10.5},
                      {"t_run", 11.0},
                      {"t_cleanup", 12.0},
                      {"t_inactive", 13.0},
                      {"success", true},
                      {"waitstatus", 0},
                      {"exception_occurred", false}});
    EXPECT_EQ(
        flux::cmd::job_to_json(j, NOW),
        R"({"t_depend": 10.5, "t_run": 11.0, "t_cleanup": 12.0, "t_inactive": 13.0, "duration": 0.0, "name": "true", )"
        R"("ntasks": 1, "priority": 16, "success": true, "result": "COMPLETED", "waitstatus": 0, "id": 7, )"
        R"("t_submit": 10.0, "state": "INACTIVE", "username": "4242424", "userid": 4242424, "urgency": 16, )"
        R"("runtime": 1.0, "status": "COMPLETED", "returncode": 0, "dependencies": [], "annotations": {}, )"
        R"("exception": {"occurred": false}})");
}
