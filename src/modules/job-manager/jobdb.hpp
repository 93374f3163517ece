// The job store: jobspecs, R and eventlogs of every job, persisted in SQLite
// in the instance's state directory. Writes are grouped: the first write
// opens a transaction and commit() ends it, so the caller can commit once per
// reactor loop iteration and acknowledge only what has been committed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <flux/error.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace flux::jobmgr {

/// Which log of a job an entry belongs to. R is stored as the one entry of
/// a log of its own.
enum class Log : int { eventlog = 0, output = 1, exec = 2, input = 3, R = 4 };

class JobDb {
public:
    /// Open or create the database at `path` (":memory:" for none on disk).
    static Result<std::unique_ptr<JobDb>> open(const std::string& path);
    ~JobDb();

    /// Record a new job. The jobspec text is stored once per distinct text.
    Result<void> add_job(std::uint64_t id, std::uint32_t userid, std::string_view jobspec);
    Result<void> set_R(std::uint64_t id, std::string_view R);
    Result<void> append(std::uint64_t id, Log log, std::uint32_t seq, std::string_view entry);
    /// Mark a job inactive (so a restart need not replay it).
    Result<void> set_inactive(std::uint64_t id, bool inactive);

    /// Lookups. Errors: ENOENT for an unknown job or a missing R.
    Result<std::string> jobspec(std::uint64_t id);
    Result<std::string> R(std::uint64_t id);
    Result<std::uint32_t> userid(std::uint64_t id);
    /// Entries of a log in order, each without a trailing newline.
    Result<std::vector<std::string>> entries(std::uint64_t id, Log log);

    /// The sequence number the next entry of a log takes (0 for none yet).
    Result<std::uint32_t> next_seq(std::uint64_t id, Log log);

    /// Ids of every stored job, or of those not marked inactive, ascending.
    Result<std::vector<std::uint64_t>> ids(bool active_only);
    /// The highest job id ever stored (0 if none).
    Result<std::uint64_t> max_id();

    /// End the open transaction, if any. On error the writes since the last
    /// commit are lost and the error says why.
    Result<void> commit();
    bool dirty() const { return in_txn_; }

private:
    JobDb() = default;
    static constexpr int schema_version = 2;
    Result<void> exec(const char* sql);
    Result<void> migrate();
    Result<void> begin();
    sqlite3_stmt* prepare(const char* sql);
    Error error(const char* what) const;

    sqlite3* db_ = nullptr;
    bool in_txn_ = false;
    std::vector<sqlite3_stmt*> stmts_;
    sqlite3_stmt* add_blob_ = nullptr;
    sqlite3_stmt* add_job_ = nullptr;
    sqlite3_stmt* append_ = nullptr;
    sqlite3_stmt* add_active_ = nullptr;
    sqlite3_stmt* del_active_ = nullptr;
    sqlite3_stmt* get_jobspec_ = nullptr;
    sqlite3_stmt* get_userid_ = nullptr;
    sqlite3_stmt* get_entries_ = nullptr;
    sqlite3_stmt *begin_ = nullptr, *commit_ = nullptr, *rollback_ = nullptr;
    std::string last_blob_hash_;  // skip re-inserting the same jobspec
};

}  // namespace flux::jobmgr
