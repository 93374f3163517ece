// SQLite job store (see jobdb.hpp).
#include "jobdb.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace flux::jobmgr {

namespace {

// FNV-1a 64, hex: names a jobspec text so identical ones are stored once.
std::string text_hash(std::string_view s)
{
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return fmt::format("{:016x}-{}", h, s.size());
}

// Resets a statement when the scope ends, whatever happened.
struct Reset {
    sqlite3_stmt* st;
    ~Reset()
    {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
};

}  // namespace

Error JobDb::error(const char* what) const
{
    return Error(EIO, fmt::format("job store: {}: {}", what, sqlite3_errmsg(db_)));
}

Result<std::unique_ptr<JobDb>> JobDb::open(const std::string& path)
{
    std::unique_ptr<JobDb> d(new JobDb());
    if (sqlite3_open_v2(path.c_str(), &d->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        std::string msg = d->db_ ? sqlite3_errmsg(d->db_) : "out of memory";
        return fail(EIO, fmt::format("job store: {}: {}", path, msg));
    }
    // WAL + synchronous=NORMAL: a commit survives the process dying at any
    // point; only a power loss may take back the last commits. Exclusive
    // locking: the job manager is the store's only user, so a transaction
    // takes no file locks and the WAL index lives in memory (set before
    // WAL mode is entered); another process opening the store (a second
    // instance on the same statedir) is refused while we hold it.
    //
    // The layout keeps the pages a commit dirties few, since every dirty
    // page is written whole to the WAL: a job's row is written once, at
    // submit; its events, output and R are rows of `logs`, clustered by job
    // id, so a commit for a running job touches one leaf page at the right
    // edge of the tree; `active` holds the ids of jobs not yet inactive and
    // stays a page or two. (Schema 1 kept R and an inactive flag, indexed,
    // in `jobs`: four dirty pages per job at its end instead of two.)
    static const char* schema[] = {
        "PRAGMA locking_mode=EXCLUSIVE",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA cache_size=-2048",
        "CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, userid INTEGER NOT NULL, jobspec TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS logs (id INTEGER NOT NULL, log INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " entry TEXT NOT NULL, PRIMARY KEY (id, log, seq)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS active (id INTEGER PRIMARY KEY)",
    };
    for (const char* sql : schema)
        if (auto r = d->exec(sql); !r)
            return std::unexpected(r.error());
    if (auto r = d->migrate(); !r)
        return std::unexpected(r.error());
    d->add_blob_ = d->prepare("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, ?)");
    d->add_job_ = d->prepare("INSERT INTO jobs (id, userid, jobspec) VALUES (?, ?, ?)");
    d->append_ = d->prepare("INSERT OR REPLACE INTO logs (id, log, seq, entry) VALUES (?, ?, ?, ?)");
    d->add_active_ = d->prepare("INSERT OR IGNORE INTO active (id) VALUES (?)");
    d->del_active_ = d->prepare("DELETE FROM active WHERE id = ?");
    d->get_jobspec_ = d->prepare("SELECT b.data FROM jobs j JOIN blobs b ON b.hash = j.jobspec WHERE j.id = ?");
    d->get_userid_ = d->prepare("SELECT userid FROM jobs WHERE id = ?");
    d->get_entries_ = d->prepare("SELECT entry FROM logs WHERE id = ? AND log = ? ORDER BY seq");
    // Prepared once: parsing BEGIN and COMMIT at every transaction cost
    // the job manager about a tenth of its time.
    d->begin_ = d->prepare("BEGIN");
    d->commit_ = d->prepare("COMMIT");
    d->rollback_ = d->prepare("ROLLBACK");
    for (auto* st : d->stmts_)
        if (!st)
            return std::unexpected(d->error("prepare"));
    return d;
}

// A store written by schema 1 (R and an inactive flag in `jobs`): move R
// into `logs` and the active jobs into `active`, once.
Result<void> JobDb::migrate()
{
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr) != SQLITE_OK)
        return std::unexpected(error("read schema version"));
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (version >= schema_version)
        return {};
    bool has_R = false;
    if (sqlite3_prepare_v2(db_, "SELECT 1 FROM pragma_table_info('jobs') WHERE name = 'R'", -1, &st, nullptr) ==
        SQLITE_OK) {
        has_R = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    std::string sql = "BEGIN;";
    if (has_R)
        sql += fmt::format(
            "INSERT OR IGNORE INTO logs (id, log, seq, entry) SELECT id, {}, 0, R FROM jobs WHERE R IS NOT NULL;"
            "INSERT OR IGNORE INTO active (id) SELECT id FROM jobs WHERE inactive = 0;"
            "DROP INDEX IF EXISTS jobs_active;",
            static_cast<int>(Log::R));
    sql += fmt::format("PRAGMA user_version = {}; COMMIT;", schema_version);
    if (auto r = exec(sql.c_str()); !r) {
        (void)exec("ROLLBACK");
        return r;
    }
    return {};
}

JobDb::~JobDb()
{
    if (in_txn_)
        (void)commit();
    for (auto* st : stmts_)
        sqlite3_finalize(st);
    sqlite3_close(db_);
}

sqlite3_stmt* JobDb::prepare(const char* sql)
{
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK)
        st = nullptr;
    stmts_.push_back(st);
    return st;
}

Result<void> JobDb::exec(const char* sql)
{
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        return fail(EIO, fmt::format("job store: {}: {}", sql, msg));
    }
    return {};
}

Result<void> JobDb::begin()
{
    if (in_txn_)
        return {};
    Reset rs{begin_};
    if (sqlite3_step(begin_) != SQLITE_DONE)
        return std::unexpected(error("BEGIN"));
    in_txn_ = true;
    return {};
}

Result<void> JobDb::commit()
{
    if (!in_txn_)
        return {};
    in_txn_ = false;
    Reset rs{commit_};
    if (sqlite3_step(commit_) != SQLITE_DONE) {
        Error e = error("COMMIT");
        Reset rr{rollback_};
        (void)sqlite3_step(rollback_);
        last_blob_hash_.clear();
        return std::unexpected(e);
    }
    return {};
}

Result<void> JobDb::add_job(std::uint64_t id, std::uint32_t userid, std::string_view jobspec)
{
    if (auto r = begin(); !r)
        return r;
    std::string hash = text_hash(jobspec);
    if (hash != last_blob_hash_) {
        Reset rs{add_blob_};
        sqlite3_bind_text(add_blob_, 1, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
        sqlite3_bind_text(add_blob_, 2, jobspec.data(), static_cast<int>(jobspec.size()), SQLITE_STATIC);
        if (sqlite3_step(add_blob_) != SQLITE_DONE)
            return std::unexpected(error("store jobspec"));
        last_blob_hash_ = hash;
    }
    Reset rs{add_job_};
    sqlite3_bind_int64(add_job_, 1, static_cast<sqlite3_int64>(id));
    sqlite3_bind_int64(add_job_, 2, userid);
    sqlite3_bind_text(add_job_, 3, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
    if (sqlite3_step(add_job_) != SQLITE_DONE)
        return std::unexpected(error("store job"));
    return set_inactive(id, false);
}

Result<void> JobDb::set_R(std::uint64_t id, std::string_view R)
{
    return append(id, Log::R, 0, R);
}

Result<void> JobDb::append(std::uint64_t id, Log log, std::uint32_t seq, std::string_view entry)
{
    if (auto r = begin(); !r)
        return r;
    Reset rs{append_};
    sqlite3_bind_int64(append_, 1, static_cast<sqlite3_int64>(id));
    sqlite3_bind_int(append_, 2, static_cast<int>(log));
    sqlite3_bind_int64(append_, 3, seq);
    sqlite3_bind_text(append_, 4, entry.data(), static_cast<int>(entry.size()), SQLITE_STATIC);
    if (sqlite3_step(append_) != SQLITE_DONE)
        return std::unexpected(error("append event"));
    return {};
}

Result<void> JobDb::set_inactive(std::uint64_t id, bool inactive)
{
    if (auto r = begin(); !r)
        return r;
    sqlite3_stmt* st = inactive ? del_active_ : add_active_;
    Reset rs{st};
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(id));
    if (sqlite3_step(st) != SQLITE_DONE)
        return std::unexpected(error(inactive ? "mark inactive" : "mark active"));
    return {};
}

namespace {

Result<std::string> one_text(sqlite3_stmt* st, std::uint64_t id, const char* what)
{
    Reset rs{st};
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(id));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return fail(ENOENT, fmt::format("unknown job id"));
    const auto* p = sqlite3_column_text(st, 0);
    if (!p)
        return fail(ENOENT, fmt::format("job has no {}", what));
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, 0)));
}

}  // namespace

Result<std::string> JobDb::jobspec(std::uint64_t id)
{
    return one_text(get_jobspec_, id, "jobspec");
}

Result<std::string> JobDb::R(std::uint64_t id)
{
    auto e = entries(id, Log::R);
    if (!e)
        return std::unexpected(e.error());
    if (e->empty()) {
        if (auto u = userid(id); !u)
            return std::unexpected(u.error());
        return fail(ENOENT, "job has no R");
    }
    return std::move(e->front());
}

Result<std::uint32_t> JobDb::userid(std::uint64_t id)
{
    Reset rs{get_userid_};
    sqlite3_bind_int64(get_userid_, 1, static_cast<sqlite3_int64>(id));
    if (sqlite3_step(get_userid_) != SQLITE_ROW)
        return fail(ENOENT, "unknown job id");
    return static_cast<std::uint32_t>(sqlite3_column_int64(get_userid_, 0));
}

Result<std::vector<std::string>> JobDb::entries(std::uint64_t id, Log log)
{
    Reset rs{get_entries_};
    sqlite3_bind_int64(get_entries_, 1, static_cast<sqlite3_int64>(id));
    sqlite3_bind_int(get_entries_, 2, static_cast<int>(log));
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(get_entries_)) == SQLITE_ROW) {
        const auto* p = sqlite3_column_text(get_entries_, 0);
        out.emplace_back(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(get_entries_, 0)));
    }
    if (rc != SQLITE_DONE)
        return std::unexpected(error("read log"));
    return out;
}

Result<std::uint32_t> JobDb::next_seq(std::uint64_t id, Log log)
{
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(seq) + 1, 0) FROM logs WHERE id = ? AND log = ?", -1, &st,
                           nullptr) != SQLITE_OK)
        return std::unexpected(error("prepare"));
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(id));
    sqlite3_bind_int(st, 2, static_cast<int>(log));
    int rc = sqlite3_step(st);
    auto next = static_cast<std::uint32_t>(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return std::unexpected(error("read log"));
    return next;
}

Result<std::vector<std::uint64_t>> JobDb::ids(bool active_only)
{
    const char* sql = active_only ? "SELECT id FROM active ORDER BY id" : "SELECT id FROM jobs ORDER BY id";
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
        return std::unexpected(error("prepare"));
    std::vector<std::uint64_t> out;
    while (sqlite3_step(st) == SQLITE_ROW)
        out.push_back(static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    return out;
}

Result<std::uint64_t> JobDb::max_id()
{
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT MAX(id) FROM jobs", -1, &st, nullptr) != SQLITE_OK)
        return std::unexpected(error("prepare"));
    std::uint64_t id = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        id = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    return id;
}

}  // namespace flux::jobmgr
