// Unit tests for the sched-simple policy: placement modes (pool.cpp), the
// queue and its EASY backfill (policy.cpp, reservation.cpp).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "modules/sched-simple/policy.hpp"

using flux::IdSet;
using flux::Rlist;
using namespace flux::sched;

namespace {

constexpr double T0 = 1'000'000.0;  // "now" in these tests (seconds since the epoch)

IdSet ids(std::string_view s)
{
    auto r = IdSet::parse(s);
    EXPECT_TRUE(r.has_value()) << s;
    return r ? *r : IdSet{};
}

// nnodes nodes "node0".. with the same cores and gpus each.
Rlist make_R(std::uint32_t nnodes, std::string_view cores = "0-3", std::string_view gpus = "")
{
    Rlist R;
    for (std::uint32_t r = 0; r < nnodes; r++)
        EXPECT_TRUE(R.add_node(r, fmt::format("node{}", r), ids(cores), ids(gpus)).has_value());
    return R;
}

Request slots(std::uint32_t n, std::uint32_t cores = 1, std::uint32_t gpus = 0, double duration = 0)
{
    Request r;
    r.nslots = n;
    r.cores_per_slot = cores;
    r.gpus_per_slot = gpus;
    r.duration = duration;
    return r;
}

Request nodes(std::uint32_t nnodes, std::uint32_t per_node, std::uint32_t cores = 1, bool exclusive = false)
{
    Request r;
    r.nnodes = nnodes;
    r.slots_per_node = per_node;
    r.nslots = nnodes * per_node;
    r.cores_per_slot = cores;
    r.exclusive = exclusive;
    return r;
}

Job job(std::uint64_t id, Request req, std::uint32_t priority = 16, double t_submit = 0)
{
    Job j;
    j.id = id;
    j.priority = priority;
    j.t_submit = t_submit > 0 ? t_submit : static_cast<double>(id);
    j.req = req;
    return j;
}

// A policy over R with every node up and annotations sent at once.
struct Fixture {
    Policy p;
    explicit Fixture(const Rlist& R, AllocMode mode = AllocMode::worst_fit) : p(mode)
    {
        p.set_resources(R);
        p.set_up(R.ranks(), true);
        p.set_annotate_delay(0);
    }
    // Enqueue (must succeed).
    void add(const Job& j)
    {
        auto r = p.enqueue(j);
        ASSERT_TRUE(r.has_value()) << r.error().text;
    }
    // One pass; returns id -> summary of what was allocated.
    std::map<std::uint64_t, std::string> pass(double now = T0)
    {
        last = p.schedule(now);
        std::map<std::uint64_t, std::string> out;
        for (const auto& d : last)
            if (d.type == Decision::Type::alloc)
                out[d.id] = alloc_summary(d.alloc);
        return out;
    }
    std::vector<Decision> last;
};

std::string where(const ResourcePool& pool, const Request& req, AllocMode mode)
{
    auto a = pool.place(req, mode);
    return a ? alloc_summary(*a) : "none";
}

ResourcePool up_pool(const Rlist& R)
{
    ResourcePool pool(R);
    pool.set_all_up(true);
    return pool;
}

// ---- placement ------------------------------------------------------------------------------

TEST(SchedPlacement, WorstFitSpreadsOneCoreJobsAcrossNodes)
{
    Fixture f(make_R(2));
    f.add(job(1, slots(1)));
    f.add(job(2, slots(1)));
    auto a = f.pass();
    EXPECT_EQ(a[1], "rank0/core0");
    EXPECT_EQ(a[2], "rank1/core0");
}

TEST(SchedPlacement, WorstFitSpreadsSlotsOfOneJob)
{
    ResourcePool pool = up_pool(make_R(2));
    EXPECT_EQ(where(pool, slots(4), AllocMode::worst_fit), "rank[0-1]/core[0-1]");
    EXPECT_EQ(where(pool, slots(4), AllocMode::first_fit), "rank0/core[0-3]");
    EXPECT_EQ(where(pool, slots(4), AllocMode::best_fit), "rank0/core[0-3]");
    EXPECT_EQ(where(pool, slots(5), AllocMode::worst_fit), "rank0/core[0-2] rank1/core[0-1]");
}

TEST(SchedPlacement, ModesChooseDifferentNodes)
{
    ResourcePool pool = up_pool(make_R(2));
    ASSERT_TRUE(pool.allocate({Grant{0, ids("0"), {}}}).has_value());  // rank0: 3 free, rank1: 4 free
    EXPECT_EQ(where(pool, slots(1), AllocMode::worst_fit), "rank1/core0");
    EXPECT_EQ(where(pool, slots(1), AllocMode::best_fit), "rank0/core1");
    EXPECT_EQ(where(pool, slots(1), AllocMode::first_fit), "rank0/core1");
    // A slot of 4 cores fits only on rank1 whatever the mode.
    for (auto mode : {AllocMode::worst_fit, AllocMode::best_fit, AllocMode::first_fit})
        EXPECT_EQ(where(pool, slots(1, 4), mode), "rank1/core[0-3]") << alloc_mode_name(mode);
}

TEST(SchedPlacement, BestFitPacksOntoTheFullestNode)
{
    ResourcePool pool = up_pool(make_R(3));
    ASSERT_TRUE(pool.allocate({Grant{1, ids("0-1"), {}}, Grant{2, ids("0"), {}}}).has_value());
    // rank1 has 2 free (fewest), then rank2 (3), then rank0 (4).
    EXPECT_EQ(where(pool, slots(3), AllocMode::best_fit), "rank1/core[2-3] rank2/core1");
    EXPECT_EQ(where(pool, slots(3), AllocMode::worst_fit), "rank0/core[0-1] rank2/core1");
    EXPECT_EQ(where(pool, slots(3), AllocMode::first_fit), "rank0/core[0-2]");
}

TEST(SchedPlacement, LowestFreeCoreIdsWithinANode)
{
    ResourcePool pool = up_pool(make_R(1, "0-7"));
    ASSERT_TRUE(pool.allocate({Grant{0, ids("0,2"), {}}}).has_value());
    EXPECT_EQ(where(pool, slots(3), AllocMode::first_fit), "rank0/core[1,3-4]");
}

TEST(SchedPlacement, NodeLevelRequestUsesDistinctNodes)
{
    ResourcePool pool = up_pool(make_R(3));
    ASSERT_TRUE(pool.allocate({Grant{0, ids("0-2"), {}}}).has_value());  // rank0: 1 free
    // -N2 with 2 one-core slots per node: rank0 cannot hold 2.
    for (auto mode : {AllocMode::worst_fit, AllocMode::best_fit, AllocMode::first_fit})
        EXPECT_EQ(where(pool, nodes(2, 2), mode), "rank[1-2]/core[0-1]") << alloc_mode_name(mode);
    // -N2 with 1 slot each: worst-fit avoids the busy node, first-fit does not.
    EXPECT_EQ(where(pool, nodes(2, 1), AllocMode::worst_fit), "rank[1-2]/core0");
    EXPECT_EQ(where(pool, nodes(2, 1), AllocMode::first_fit), "rank0/core3 rank1/core0");
    EXPECT_EQ(where(pool, nodes(2, 1), AllocMode::best_fit), "rank0/core3 rank1/core0");
    EXPECT_EQ(where(pool, nodes(4, 1), AllocMode::worst_fit), "none");
}

TEST(SchedPlacement, ExclusiveTakesWholeIdleNodes)
{
    ResourcePool pool = up_pool(make_R(3, "0-3", "0-1"));
    ASSERT_TRUE(pool.allocate({Grant{1, ids("0"), {}}}).has_value());
    EXPECT_EQ(where(pool, nodes(2, 1, 1, true), AllocMode::worst_fit), "rank[0,2]/core[0-3],gpu[0-1]");
    EXPECT_EQ(where(pool, nodes(3, 1, 1, true), AllocMode::worst_fit), "none");
    // Without exclusive, the partly used node is a candidate too.
    EXPECT_EQ(where(pool, nodes(2, 1), AllocMode::first_fit), "rank0/core0 rank1/core1");
    auto feasible = pool.check_feasible(nodes(1, 1, 1, true), AllocMode::worst_fit);
    EXPECT_TRUE(feasible.has_value());
}

TEST(SchedPlacement, GpusLimitSlotsPerNode)
{
    ResourcePool pool = up_pool(make_R(2, "0-3", "0-1"));
    // One core and one gpu per slot: at most 2 slots per node.
    EXPECT_EQ(where(pool, slots(3, 1, 1), AllocMode::first_fit), "rank0/core[0-1],gpu[0-1] rank1/core0,gpu0");
    EXPECT_EQ(where(pool, slots(4, 1, 1), AllocMode::worst_fit), "rank[0-1]/core[0-1],gpu[0-1]");
    EXPECT_EQ(where(pool, slots(5, 1, 1), AllocMode::worst_fit), "none");
    ASSERT_TRUE(pool.allocate({Grant{0, {}, ids("0-1")}}).has_value());  // rank0's gpus are taken
    EXPECT_EQ(where(pool, slots(1, 1, 1), AllocMode::first_fit), "rank1/core0,gpu0");
    EXPECT_EQ(where(pool, slots(1), AllocMode::first_fit), "rank0/core0");
}

TEST(SchedPlacement, DownNodesAreNotUsed)
{
    ResourcePool pool = up_pool(make_R(2));
    pool.set_up(ids("0"), false);
    EXPECT_EQ(pool.free_cores_up(), 4u);
    EXPECT_EQ(where(pool, slots(1), AllocMode::first_fit), "rank1/core0");
    EXPECT_EQ(where(pool, slots(5), AllocMode::first_fit), "none");
    // Feasibility ignores up/down and allocations.
    EXPECT_TRUE(pool.check_feasible(slots(8), AllocMode::worst_fit).has_value());
    pool.set_all_up(false);
    EXPECT_TRUE(pool.check_feasible(nodes(2, 4), AllocMode::worst_fit).has_value());
}

// ---- feasibility ----------------------------------------------------------------------------

void expect_unsatisfiable(const ResourcePool& pool, const Request& req, const std::string& detail)
{
    auto r = pool.check_feasible(req, AllocMode::worst_fit);
    ASSERT_FALSE(r.has_value()) << detail;
    EXPECT_EQ(r.error().errnum, EOVERFLOW);
    EXPECT_EQ(r.error().text.rfind("unsatisfiable request", 0), 0u) << r.error().text;
    EXPECT_NE(r.error().text.find(detail), std::string::npos) << r.error().text;
}

TEST(SchedFeasibility, UnsatisfiableRequestsAreExplained)
{
    ResourcePool pool(make_R(2, "0-3", "0"));
    expect_unsatisfiable(pool, nodes(3, 1), "need 3 node(s), only 2 in this instance");
    expect_unsatisfiable(pool, slots(9), "need 9 slot(s) of 1 core(s), only 8 core(s) in this instance");
    expect_unsatisfiable(pool, slots(3, 1, 1),
                         "need 3 slot(s) of 1 core(s) and 1 GPU(s), only 2 GPU(s) in this instance");
    expect_unsatisfiable(pool, slots(1, 5), "need 1 slot(s) of 5 core(s), only 0 fit in this instance");
}

TEST(SchedFeasibility, ShapeThatFitsNowhere)
{
    ResourcePool pool(make_R(2, "0-3"));
    EXPECT_TRUE(pool.check_feasible(nodes(2, 4), AllocMode::worst_fit).has_value());
    auto r = pool.check_feasible(nodes(1, 5), AllocMode::worst_fit);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EOVERFLOW);
    EXPECT_NE(r.error().text.find("only 0 node(s) can hold that"), std::string::npos) << r.error().text;
    r = pool.check_feasible(slots(3, 3), AllocMode::worst_fit);  // 9 cores > 8, but also shape
    ASSERT_FALSE(r.has_value());
    r = pool.check_feasible(slots(2, 3), AllocMode::worst_fit);  // 6 cores, one slot a node
    EXPECT_TRUE(r.has_value());
    r = pool.check_feasible(slots(3, 2, 0), AllocMode::worst_fit);
    EXPECT_TRUE(r.has_value());
}

TEST(SchedFeasibility, InvalidRequests)
{
    ResourcePool pool(make_R(2));
    Request r = slots(2);
    r.exclusive = true;
    auto e = pool.check_feasible(r, AllocMode::worst_fit);
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().errnum, EINVAL);
    EXPECT_EQ(e.error().text, "exclusive allocation only supported with nnodes");
    EXPECT_FALSE(pool.check_feasible(slots(0), AllocMode::worst_fit).has_value());
    EXPECT_FALSE(pool.check_feasible(slots(1, 0), AllocMode::worst_fit).has_value());
}

TEST(SchedFeasibility, EnqueueDeniesWhatCanNeverFit)
{
    Fixture f(make_R(2));
    auto r = f.p.enqueue(job(1, slots(1, 8)));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EOVERFLOW);
    EXPECT_EQ(f.p.pending_count(), 0u);
    f.add(job(2, slots(1)));
    r = f.p.enqueue(job(2, slots(1)));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EEXIST);
}

// ---- queue ----------------------------------------------------------------------------------

TEST(SchedQueue, OrderIsPriorityThenSubmitTimeThenId)
{
    Fixture f(make_R(1));
    f.add(job(10, slots(1), 16, 5.0));
    f.add(job(11, slots(1), 20, 9.0));
    f.add(job(12, slots(1), 16, 3.0));
    f.add(job(13, slots(1), 16, 3.0));
    f.add(job(9, slots(1), 16, 3.0));
    EXPECT_EQ(f.p.queue_order(), (std::vector<std::uint64_t>{11, 9, 12, 13, 10}));
}

TEST(SchedQueue, HigherPriorityStartsFirst)
{
    Fixture f(make_R(1, "0"));
    f.add(job(1, slots(1), 10));
    f.add(job(2, slots(1), 30));
    f.add(job(3, slots(1), 20));
    auto a = f.pass();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(a.contains(2));
}

TEST(SchedQueue, PrioritizeReorders)
{
    Fixture f(make_R(1, "0"));
    f.add(job(1, slots(1)));
    f.pass();  // job 1 runs
    f.add(job(2, slots(1), 16));
    f.add(job(3, slots(1), 16));
    f.pass();
    EXPECT_EQ(f.p.queue_order(), (std::vector<std::uint64_t>{2, 3}));
    f.p.prioritize({{3, 100}, {42, 5} /* unknown: ignored */});
    EXPECT_EQ(f.p.queue_order(), (std::vector<std::uint64_t>{3, 2}));
    ASSERT_TRUE(f.p.release(1, Rlist(), true).has_value());
    auto a = f.pass();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[3], "rank0/core0");
}

TEST(SchedQueue, CancelRemovesAPendingRequest)
{
    Fixture f(make_R(1, "0-1"));
    f.add(job(1, slots(1, 2)));
    f.pass();
    f.add(job(2, slots(1, 2)));  // blocked head
    f.add(job(3, slots(1)));     // no time limit: may not overtake
    EXPECT_TRUE(f.pass().empty());
    EXPECT_TRUE(f.p.cancel(2));
    EXPECT_FALSE(f.p.cancel(2));
    EXPECT_FALSE(f.p.cancel(1));  // running, not pending
    ASSERT_TRUE(f.p.release(1, Rlist(), true).has_value());
    auto a = f.pass();
    EXPECT_EQ(a[3], "rank0/core0");
    EXPECT_EQ(f.p.pending_count(), 0u);
}

TEST(SchedQueue, ForgetJobsFreesEverything)
{
    Fixture f(make_R(1));
    f.add(job(1, slots(2, 1, 0, 100)));
    f.pass();
    f.add(job(2, slots(4, 1, 0, 50)));  // blocked: a reservation is computed
    EXPECT_TRUE(f.pass().empty());
    f.p.forget_jobs();
    EXPECT_EQ(f.p.pending_count(), 0u);
    EXPECT_EQ(f.p.running_count(), 0u);
    EXPECT_FALSE(f.p.reservation().has_value());
    EXPECT_EQ(f.p.pool().free_cores_up(), 4u);
    // What a new job manager's hello says is running is taken again.
    Rlist R;
    ASSERT_TRUE(R.add_node(0, "node0", ids("0"), IdSet{}).has_value());
    ASSERT_TRUE(f.p.add_running(1, R).has_value());
    f.add(job(3, slots(3)));
    EXPECT_EQ(f.pass()[3], "rank0/core[1-3]");
}

TEST(SchedQueue, FreedResourcesGoToTheHead)
{
    Fixture f(make_R(1));
    f.add(job(1, slots(4)));
    f.pass();
    f.add(job(2, slots(2)));
    f.add(job(3, slots(2)));
    EXPECT_TRUE(f.pass().empty());
    ASSERT_TRUE(f.p.release(1, Rlist(), true).has_value());
    auto a = f.pass();
    EXPECT_EQ(a[2], "rank0/core[0-1]");
    EXPECT_EQ(a[3], "rank0/core[2-3]");
}

// ---- backfill -------------------------------------------------------------------------------

// One node of 4 cores; job 1 holds 2 cores until T0+100; job 2 wants all 4.
Fixture blocked_on_one_node()
{
    Fixture f(make_R(1));
    f.add(job(1, slots(2, 1, 0, 100)));
    auto a = f.pass();
    EXPECT_EQ(a[1], "rank0/core[0-1]");
    f.add(job(2, slots(4, 1, 0, 50)));
    EXPECT_TRUE(f.pass().empty());
    return f;
}

TEST(SchedBackfill, ShortJobBackfills)
{
    Fixture f = blocked_on_one_node();
    f.add(job(3, slots(1, 1, 0, 60)));  // ends at T0+60 <= T0+100
    auto a = f.pass();
    EXPECT_EQ(a[3], "rank0/core2");
    ASSERT_TRUE(f.p.reservation().has_value());
    EXPECT_DOUBLE_EQ(f.p.reservation()->start, T0 + 100);
    EXPECT_EQ(alloc_summary(f.p.reservation()->resources), "rank0/core[0-3]");
}

TEST(SchedBackfill, LongJobThatWouldDelayTheHeadWaits)
{
    Fixture f = blocked_on_one_node();
    f.add(job(3, slots(1, 1, 0, 101)));  // would still run at T0+100
    EXPECT_TRUE(f.pass().empty());
    f.add(job(4, slots(1)));  // no time limit: never ends "before"
    EXPECT_TRUE(f.pass().empty());
    // Later, the head gets its resources once job 1 ends.
    ASSERT_TRUE(f.p.release(1, Rlist(), true).has_value());
    auto a = f.pass(T0 + 100);
    EXPECT_EQ(a[2], "rank0/core[0-3]");
    EXPECT_EQ(a.size(), 1u);
}

TEST(SchedBackfill, BackfillAsTimePasses)
{
    Fixture f = blocked_on_one_node();
    f.add(job(3, slots(1, 1, 0, 60)));
    auto a = f.pass(T0 + 50);  // ends at T0+110 > T0+100: no
    EXPECT_TRUE(a.empty());
}

TEST(SchedBackfill, LongJobOutsideTheReservationStarts)
{
    Fixture f(make_R(2));
    f.add(job(1, slots(1, 4, 0, 100)));   // rank0, until T0+100
    f.add(job(2, slots(1, 1, 0, 1000)));  // rank1 core0, until T0+1000
    auto a = f.pass();
    EXPECT_EQ(a[1], "rank0/core[0-3]");
    EXPECT_EQ(a[2], "rank1/core0");
    f.add(job(3, slots(1, 4)));  // a whole node's worth: blocked until T0+100 on rank0
    f.add(job(4, slots(2)));     // no time limit, fits on rank1: leaves rank0 alone
    f.add(job(5, slots(2)));     // would need the reserved cores
    a = f.pass();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[4], "rank1/core[1-2]");
    ASSERT_TRUE(f.p.reservation().has_value());
    EXPECT_DOUBLE_EQ(f.p.reservation()->start, T0 + 100);
    EXPECT_EQ(alloc_summary(f.p.reservation()->resources), "rank0/core[0-3]");
}

TEST(SchedBackfill, NoTimeLimitsMeansNoKnownStartTime)
{
    Fixture f(make_R(2));
    f.add(job(1, slots(1, 2)));  // rank0 cores 0-1, no time limit
    f.add(job(2, slots(1, 2)));  // rank1 cores 0-1
    f.pass();
    f.add(job(3, nodes(2, 1, 4)));      // a whole node on each: blocked
    f.add(job(4, slots(1)));            // no limit: the reservation is every node, so it waits
    f.add(job(5, slots(1, 1, 0, 30)));  // a time limit: it ends, the head's start is unknown
    auto a = f.pass();
    ASSERT_TRUE(f.p.reservation().has_value());
    EXPECT_FALSE(f.p.reservation()->bounded());
    EXPECT_EQ(alloc_summary(f.p.reservation()->resources), "rank[0-1]/core[0-3]");
    EXPECT_FALSE(a.contains(4));
    EXPECT_TRUE(a.contains(5));
}

TEST(SchedBackfill, ReservationWaitsForEnoughJobsToEnd)
{
    Fixture f(make_R(1, "0-7"));
    for (std::uint64_t i = 1; i <= 8; i++)
        f.add(job(i, slots(1, 1, 0, 10.0 * static_cast<double>(i))));  // job i ends at T0+10i
    EXPECT_EQ(f.pass().size(), 8u);
    f.add(job(20, slots(3)));
    f.add(job(21, slots(1, 1, 0, 25)));  // ends T0+25 <= T0+30
    f.add(job(22, slots(1, 1, 0, 35)));
    ASSERT_TRUE(f.p.release(8, Rlist(), true).has_value());  // one core free now
    auto a = f.pass();
    ASSERT_TRUE(f.p.reservation().has_value());
    EXPECT_DOUBLE_EQ(f.p.reservation()->start, T0 + 20);  // core 7 free + jobs 1, 2 ending
    EXPECT_TRUE(a.empty()) << "job 21 ends after T0+20";
}

TEST(SchedBackfill, ExpirationsFollowDurationOrInstance)
{
    Rlist R = make_R(1);
    R.set_expiration(T0 + 5000);
    Fixture f(R);
    f.add(job(1, slots(1, 1, 0, 60)));
    f.add(job(2, slots(1)));
    f.pass();
    std::map<std::uint64_t, Decision> by_id;
    for (const auto& d : f.last)
        by_id[d.id] = d;
    EXPECT_DOUBLE_EQ(by_id[1].starttime, T0);
    EXPECT_DOUBLE_EQ(by_id[1].expiration, T0 + 60);
    EXPECT_DOUBLE_EQ(by_id[2].expiration, T0 + 5000);
    Rlist jobR = f.p.pool().to_rlist(by_id[1].alloc, by_id[1].starttime, by_id[1].expiration);
    EXPECT_EQ(jobR.nodelist().encode(), "node0");
    EXPECT_DOUBLE_EQ(jobR.expiration(), T0 + 60);
}

// ---- release, hello, views, annotations -----------------------------------------------------

TEST(SchedRelease, PartialFreeKeepsTheRest)
{
    Fixture f(make_R(2));
    f.add(job(1, nodes(2, 2)));
    EXPECT_EQ(f.pass()[1], "rank[0-1]/core[0-1]");
    EXPECT_EQ(f.p.pool().free_cores_up(), 4u);
    Rlist part;
    ASSERT_TRUE(part.add_node(1, "node1", ids("0-1")).has_value());
    ASSERT_TRUE(f.p.release(1, part, false).has_value());
    EXPECT_EQ(f.p.pool().free_cores_up(), 6u);
    EXPECT_TRUE(f.p.is_running(1));
    EXPECT_EQ(alloc_summary(f.p.held(1)), "rank0/core[0-1]");
    EXPECT_EQ(f.p.pool().allocated().ranks(), ids("0"));
    // Releasing it again changes nothing; the final free returns the rest.
    ASSERT_TRUE(f.p.release(1, part, false).has_value());
    EXPECT_EQ(f.p.pool().free_cores_up(), 6u);
    ASSERT_TRUE(f.p.release(1, part, true).has_value());
    EXPECT_EQ(f.p.pool().free_cores_up(), 8u);
    EXPECT_FALSE(f.p.is_running(1));
    auto r = f.p.release(1, part, true);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, ENOENT);
}

TEST(SchedRelease, HelloMarksRunningJobs)
{
    Fixture f(make_R(2));
    Rlist R;
    ASSERT_TRUE(R.add_node(1, "node1", ids("0-3")).has_value());
    ASSERT_TRUE(R.add_node(7, "node7", ids("0")).has_value());  // not ours: ignored
    R.set_expiration(T0 + 10);
    ASSERT_TRUE(f.p.add_running(100, R).has_value());
    EXPECT_EQ(f.p.pool().free_cores_up(), 4u);
    auto dup = f.p.add_running(101, R);
    ASSERT_FALSE(dup.has_value());
    EXPECT_EQ(dup.error().errnum, EEXIST);
    f.add(job(1, slots(1, 4)));
    f.add(job(2, slots(1, 1, 0, 5)));
    auto a = f.pass();
    EXPECT_EQ(a[1], "rank0/core[0-3]");
    EXPECT_FALSE(a.contains(2));
    EXPECT_TRUE(f.p.is_pending(2));
    ASSERT_TRUE(f.p.release(100, R, true).has_value());
    a = f.pass();
    EXPECT_EQ(a[2], "rank1/core0");
}

TEST(SchedViews, ResourceStatus)
{
    Fixture f(make_R(3));
    f.p.set_up(ids("2"), false);
    f.add(job(1, slots(1)));
    f.pass();
    const auto& pool = f.p.pool();
    EXPECT_EQ(pool.all().ranks(), ids("0-2"));
    EXPECT_EQ(pool.allocated().to_string(), "rank0/core0");
    EXPECT_EQ(pool.down().to_string(), "rank2/core[0-3]");
    EXPECT_EQ(pool.all().nodelist().encode(), "node[0-2]");
}

TEST(SchedAnnotate, OnlyTheBlockedHeadAfterADelay)
{
    Fixture f(make_R(1));
    f.p.set_annotate_delay(1.0);
    f.add(job(1, slots(4)));
    f.pass();
    f.add(job(2, slots(2)));
    f.add(job(3, slots(2)));
    EXPECT_TRUE(f.pass(T0).empty());
    ASSERT_TRUE(f.p.wakeup_time().has_value());
    EXPECT_DOUBLE_EQ(*f.p.wakeup_time(), T0 + 1.0);
    f.pass(T0 + 1.0);
    ASSERT_EQ(f.last.size(), 1u);
    EXPECT_EQ(f.last[0].type, Decision::Type::annotate);
    EXPECT_EQ(f.last[0].id, 2u);
    EXPECT_FALSE(f.p.wakeup_time().has_value());
    EXPECT_TRUE(f.pass(T0 + 2.0).empty()) << "annotated once";
    // A higher priority job takes its place: the old head is unannotated.
    f.add(job(4, slots(3), 100));
    f.p.set_annotate_delay(0);
    f.pass(T0 + 3.0);
    ASSERT_EQ(f.last.size(), 2u);
    EXPECT_EQ(f.last[0].type, Decision::Type::unannotate);
    EXPECT_EQ(f.last[0].id, 2u);
    EXPECT_EQ(f.last[1].type, Decision::Type::annotate);
    EXPECT_EQ(f.last[1].id, 4u);
    ASSERT_TRUE(f.p.release(1, Rlist(), true).has_value());
    f.pass(T0 + 4.0);
    ASSERT_FALSE(f.last.empty());
    EXPECT_EQ(f.last[0].type, Decision::Type::alloc);
    EXPECT_EQ(f.last[0].id, 4u);
    EXPECT_TRUE(f.last[0].was_annotated);
}

// ---- cost -----------------------------------------------------------------------------------

TEST(SchedCost, ManyPendingJobsKeepPassesCheap)
{
    Fixture f(make_R(2, "0-3"));
    f.p.set_annotate_delay(1e9);
    for (std::uint64_t i = 1; i <= 8; i++)
        f.add(job(i, slots(1)));
    EXPECT_EQ(f.pass().size(), 8u);
    for (std::uint64_t i = 100; i < 10100; i++)
        f.add(job(i, slots(1)));
    std::uint64_t before = f.p.placements();
    EXPECT_TRUE(f.pass().empty());
    EXPECT_LE(f.p.placements() - before, 2u) << "a full instance is not searched per job";
    // New arrivals alone: only they are looked at.
    before = f.p.placements();
    for (std::uint64_t i = 20000; i < 20010; i++)
        f.add(job(i, slots(1)));
    EXPECT_TRUE(f.pass().empty());
    EXPECT_LE(f.p.placements() - before, 10u);
    // Each free starts one job, at a bounded cost per pass.
    before = f.p.placements();
    std::uint64_t started = 0, next_free = 1;
    std::vector<std::uint64_t> running = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int round = 0; round < 2000; round++) {
        ASSERT_TRUE(f.p.release(running[next_free - 1], Rlist(), true).has_value());
        auto a = f.pass();
        ASSERT_EQ(a.size(), 1u);
        running[next_free - 1] = a.begin()->first;
        next_free = next_free % 8 + 1;
        started++;
    }
    EXPECT_EQ(started, 2000u);
    EXPECT_LE(f.p.placements() - before, 2000u * 3);
    EXPECT_EQ(f.p.pending_count(), 10010u - 2000u);
}

TEST(SchedCost, OrderIsKeptUnderBackfillPressure)
{
    // Mixed shapes: the pass stops once no remaining shape can start.
    Fixture f(make_R(1, "0-3"));
    f.add(job(1, slots(2, 1, 0, 100)));
    f.pass();
    f.add(job(2, slots(4)));  // blocked head, reserves every core at T0+100
    for (std::uint64_t i = 3; i < 5000; i++)
        f.add(job(i, slots(1 + static_cast<std::uint32_t>(i % 3))));  // no time limits
    std::uint64_t before = f.p.placements();
    EXPECT_TRUE(f.pass().empty());
    EXPECT_EQ(f.p.pool().free_cores_up(), 2u);
    EXPECT_LE(f.p.placements() - before, 4u) << "one try per shape";
}

TEST(SchedCost, DistinctTimeLimitsShareWhatIsKnown)
{
    Fixture f(make_R(1, "0-3"));
    f.add(job(1, slots(2, 1, 0, 100)));
    f.pass();
    f.add(job(2, slots(4)));  // blocked head, reserves every core at T0+100
    for (std::uint64_t i = 3; i < 5003; i++)
        f.add(job(i, slots(1, 1, 0, 200.0 + static_cast<double>(i))));  // all end after T0+100
    f.add(job(9999, slots(1, 1, 0, 50)));                               // ends before: backfills, last in line
    std::uint64_t before = f.p.placements();
    auto a = f.pass();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[9999], "rank0/core2");
    EXPECT_LE(f.p.placements() - before, 3u) << "one try per shape and kind";
}

}  // namespace
