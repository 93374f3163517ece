// The job manager's SQLite store: what is written survives a reopen, R and
// the active set are kept, and a store written by schema 1 is migrated.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "modules/job-manager/jobdb.hpp"

using flux::jobmgr::JobDb;
using flux::jobmgr::Log;
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
