// The job manager's SQLite store: what is written survives a reopen, R and
// the active set are kept, and a store written by schema 1 is migrated.
// Reading a job back from its stored eventlog (replay.hpp) at restart.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "modules/job-manager/jobdb.hpp"
#include "modules/job-manager/replay.hpp"

using flux::JobResult;
using flux::JobState;
using flux::jobmgr::JobDb;
using flux::jobmgr::Log;
using flux::jobmgr::replay_eventlog;
using Ids = std::vector<std::uint64_t>;
namespace fs = std::filesystem;

namespace {

class JobDbTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/test_jobdb.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/job.db";
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::unique_ptr<JobDb> open()
    {
        auto d = JobDb::open(path_);
        EXPECT_TRUE(d) << (d ? "" : d.error().message());
        return d ? std::move(*d) : nullptr;
    }
    std::string dir_, path_;
};

TEST_F(JobDbTest, AJobAndItsLogsSurviveAReopen)
{
    {
        auto db = open();
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->add_job(42, 1000, R"({"version":1})"));
        ASSERT_TRUE(db->append(42, Log::eventlog, 0, R"({"name":"submit"})"));
        ASSERT_TRUE(db->append(42, Log::eventlog, 1, R"({"name":"alloc"})"));
        ASSERT_TRUE(db->set_R(42, R"({"version":1,"execution":{}})"));
        ASSERT_TRUE(db->append(42, Log::output, 0, R"({"name":"header"})"));
        ASSERT_TRUE(db->add_job(43, 1001, R"({"version":1})"));
        ASSERT_TRUE(db->commit());
        EXPECT_FALSE(db->dirty());
    }
    auto db = open();
    ASSERT_TRUE(db);
    EXPECT_EQ(*db->jobspec(42), R"({"version":1})");
    EXPECT_EQ(*db->jobspec(43), R"({"version":1})");
    EXPECT_EQ(*db->userid(43), 1001u);
    EXPECT_EQ(*db->R(42), R"({"version":1,"execution":{}})");
    EXPECT_EQ(*db->entries(42, Log::eventlog),
              (std::vector<std::string>{R"({"name":"submit"})", R"({"name":"alloc"})"}));
    EXPECT_EQ(db->entries(42, Log::output)->size(), 1u);
    // R is not an eventlog entry, and the logs of one job are not another's.
    EXPECT_TRUE(db->entries(43, Log::eventlog)->empty());
    EXPECT_EQ(*db->ids(false), (Ids{42, 43}));
    EXPECT_EQ(*db->ids(true), (Ids{42, 43}));
    EXPECT_EQ(*db->max_id(), 43u);
}

TEST_F(JobDbTest, InactiveJobsLeaveTheActiveSet)
{
    auto db = open();
    ASSERT_TRUE(db);
    for (std::uint64_t id : {7, 8, 9})
        ASSERT_TRUE(db->add_job(id, 0, "{}"));
    ASSERT_TRUE(db->set_inactive(8, true));
    ASSERT_TRUE(db->commit());
    EXPECT_EQ(*db->ids(true), (Ids{7, 9}));
    EXPECT_EQ(*db->ids(false), (Ids{7, 8, 9}));
    db.reset();
    db = open();
    EXPECT_EQ(*db->ids(true), (Ids{7, 9}));
}

TEST_F(JobDbTest, NextSeqFollowsTheLastEntryOfEachLog)
{
    auto db = open();
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->add_job(3, 0, "{}"));
    EXPECT_EQ(*db->next_seq(3, Log::eventlog), 0u);
    for (std::uint32_t seq = 0; seq < 5; seq++)
        ASSERT_TRUE(db->append(3, Log::eventlog, seq, "{}"));
    ASSERT_TRUE(db->append(3, Log::output, 0, "{}"));
    ASSERT_TRUE(db->commit());
    EXPECT_EQ(*db->next_seq(3, Log::eventlog), 5u);
    EXPECT_EQ(*db->next_seq(3, Log::output), 1u);
    EXPECT_EQ(*db->next_seq(3, Log::exec), 0u);
    EXPECT_EQ(*db->next_seq(4, Log::eventlog), 0u);
}

TEST_F(JobDbTest, MissingThingsAreENOENT)
{
    auto db = open();
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->add_job(5, 0, "{}"));
    auto r = db->R(5);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, ENOENT);
    EXPECT_NE(r.error().message().find("no R"), std::string::npos);
    r = db->R(6);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, ENOENT);
    EXPECT_NE(r.error().message().find("unknown job"), std::string::npos);
    EXPECT_FALSE(db->jobspec(6));
    EXPECT_FALSE(db->userid(6));
}

TEST_F(JobDbTest, AStoreThatCannotBeOpenedSaysWhere)
{
    auto d = JobDb::open(dir_ + "/no/such/dir/job.db");
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().errnum, EIO);
    EXPECT_NE(d.error().message().find("no/such/dir/job.db"), std::string::npos);
}

TEST_F(JobDbTest, AnOpenTransactionIsCommittedOnClose)
{
    {
        auto db = open();
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->add_job(1, 0, "{}"));
        ASSERT_TRUE(db->commit());
        ASSERT_TRUE(db->add_job(2, 0, "{}"));
        EXPECT_TRUE(db->dirty());
        // The destructor commits what is open: a clean unload keeps it.
    }
    auto db = open();
    EXPECT_EQ(*db->ids(false), (Ids{1, 2}));
}

TEST_F(JobDbTest, ASchema1StoreIsMigrated)
{
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
    const char* v1 =
        "CREATE TABLE blobs (hash TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, userid INTEGER NOT NULL,"
        " jobspec TEXT NOT NULL, R TEXT, inactive INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE logs (id INTEGER NOT NULL, log INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " entry TEXT NOT NULL, PRIMARY KEY (id, log, seq)) WITHOUT ROWID;"
        "CREATE INDEX jobs_active ON jobs (inactive);"
        "INSERT INTO blobs VALUES ('h', '{\"version\":1}');"
        "INSERT INTO jobs VALUES (10, 0, 'h', '{\"R\":10}', 1);"
        "INSERT INTO jobs VALUES (11, 0, 'h', '{\"R\":11}', 0);"
        "INSERT INTO jobs VALUES (12, 0, 'h', NULL, 0);"
        "INSERT INTO logs VALUES (10, 0, 0, '{\"name\":\"submit\"}');";
    ASSERT_EQ(sqlite3_exec(raw, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);

    auto db = open();
    ASSERT_TRUE(db);
    EXPECT_EQ(*db->R(10), R"({"R":10})");
    EXPECT_EQ(*db->R(11), R"({"R":11})");
    EXPECT_FALSE(db->R(12));
    EXPECT_EQ(*db->ids(true), (Ids{11, 12}));
    EXPECT_EQ(*db->jobspec(10), R"({"version":1})");
    EXPECT_EQ(db->entries(10, Log::eventlog)->size(), 1u);
    // New jobs go in beside the old ones.
    ASSERT_TRUE(db->add_job(13, 0, "{}"));
    ASSERT_TRUE(db->commit());
    EXPECT_EQ(*db->ids(true), (Ids{11, 12, 13}));
    db.reset();
    // Migrated once: a second open finds nothing to do and changes nothing.
    db = open();
    EXPECT_EQ(*db->R(11), R"({"R":11})");
    EXPECT_EQ(*db->ids(true), (Ids{11, 12, 13}));
}

}  // namespace

namespace {

std::string ev(const char* name, const char* context = nullptr)
{
    std::string e = std::string(R"({"timestamp":1700000000.5,"name":")") + name + '"';
    if (context)
        e += std::string(R"(,"context":)") + context;
    return e + "}";
}

const std::vector<std::string> submitted = {
    ev("submit", R"({"userid":1001,"urgency":12,"flags":2,"version":1})"),
    ev("validate"),
};

std::vector<std::string> with(std::vector<std::string> log, std::initializer_list<std::string> more)
{
    log.insert(log.end(), more);
    return log;
}

}  // namespace

TEST(Replay, AJobWaitingForResources)
{
    auto r = replay_eventlog(with(submitted, {ev("depend"), ev("priority", R"({"priority":12})"),
                                              ev("urgency", R"({"userid":1001,"urgency":20})")}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->state, JobState::SCHED);
    EXPECT_EQ(r->userid, 1001u);
    EXPECT_EQ(r->urgency, 20);
    EXPECT_EQ(r->priority, 12u);
    EXPECT_EQ(r->flags, 2);
    EXPECT_DOUBLE_EQ(r->t_submit, 1700000000.5);
    EXPECT_FALSE(r->allocated);
    EXPECT_FALSE(r->fatal);
}

TEST(Replay, ARestartSendsAScheduledJobBackForAPriority)
{
    auto log = with(submitted, {ev("depend"), ev("priority", R"({"priority":16})"), ev("flux-restart")});
    EXPECT_EQ(replay_eventlog(log)->state, JobState::PRIORITY);
    log.push_back(ev("priority", R"({"priority":16})"));
    EXPECT_EQ(replay_eventlog(log)->state, JobState::SCHED);
}

TEST(Replay, DependenciesNotYetRemovedAreKept)
{
    auto r = replay_eventlog(with(submitted, {ev("dependency-add", R"({"description":"afterok:f1"})"),
                                              ev("dependency-add", R"({"description":"after:f2"})"),
                                              ev("dependency-remove", R"({"description":"afterok:f1"})")}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, JobState::DEPEND);
    EXPECT_EQ(r->deps, std::vector<std::string>{"after:f2"});
}

TEST(Replay, AnAllocationIsHeldUntilFreed)
{
    auto running = with(submitted, {ev("depend"), ev("priority", R"({"priority":16})"), ev("alloc"), ev("start")});
    auto r = replay_eventlog(running);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, JobState::RUN);
    EXPECT_TRUE(r->allocated);
    EXPECT_TRUE(r->started);
    EXPECT_FALSE(r->finished);

    auto cleaning =
        with(running, {ev("finish", R"({"status":256})"), ev("release", R"({"ranks":"all","final":true})")});
    r = replay_eventlog(cleaning);
    EXPECT_EQ(r->state, JobState::CLEANUP);
    EXPECT_TRUE(r->allocated);
    EXPECT_EQ(r->wait_status, 256);

    r = replay_eventlog(with(cleaning, {ev("free"), ev("clean")}));
    EXPECT_EQ(r->state, JobState::INACTIVE);
    EXPECT_FALSE(r->allocated);
    EXPECT_EQ(flux::jobmgr::job_result(r->fatal, r->fatal_type, r->wait_status), JobResult::FAILED);
}

TEST(Replay, TheFirstFatalExceptionDecides)
{
    auto r = replay_eventlog(
        with(submitted, {ev("exception", R"({"type":"test","severity":1,"note":"minor"})"),
                         ev("exception", R"({"type":"cancel","severity":0,"userid":5,"note":"by user"})"),
                         ev("exception", R"({"type":"timeout","severity":0,"note":"later"})"), ev("clean")}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, JobState::INACTIVE);
    EXPECT_TRUE(r->fatal);
    EXPECT_EQ(r->fatal_type, "cancel");
    EXPECT_EQ(r->fatal_note, "by user");
    EXPECT_EQ(flux::jobmgr::job_result(r->fatal, r->fatal_type, r->wait_status), JobResult::CANCELED);
    // A severity above 0 alone ends nothing.
    r = replay_eventlog(with(submitted, {ev("exception", R"({"type":"test","severity":1,"note":""})")}));
    EXPECT_FALSE(r->fatal);
    EXPECT_EQ(r->state, JobState::DEPEND);
}

TEST(Replay, Results)
{
    using flux::jobmgr::job_result;
    EXPECT_EQ(job_result(false, "", 0), JobResult::COMPLETED);
    EXPECT_EQ(job_result(false, "", 1 << 8), JobResult::FAILED);
    EXPECT_EQ(job_result(true, "timeout", 0), JobResult::TIMEOUT);
    EXPECT_EQ(job_result(true, "exec", 0), JobResult::FAILED);
}

TEST(Replay, ABadLogIsRefused)
{
    for (const auto& log : std::vector<std::vector<std::string>>{
             {},
             {"not json"},
             {R"({"name":"submit"})"},         // no timestamp
             {R"({"timestamp":1,"name":5})"},  // name not a string
             {ev("validate")},                 // not begun with submit
             with(submitted, {R"(["an","array"])"}),
         }) {
        auto r = replay_eventlog(log);
        ASSERT_FALSE(r) << (log.empty() ? "(empty)" : log.back());
        EXPECT_EQ(r.error().errnum, EPROTO);
    }
    // Context fields of the wrong type fall back to defaults instead.
    auto r = replay_eventlog({ev("submit", R"({"userid":"x","urgency":null})")});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->userid, 0u);
    EXPECT_EQ(r->urgency, 16);
}
