// JobIndex: every job job-list knows, built from journal entries, with the
// lists flux-core's job-list keeps: pending (priority high to low, then id
// low to high), running (RUN and CLEANUP, most recent t_run first) and
// inactive (most recent t_inactive first), and the job-stats counters.
// Pure: no messages, no clock (tests drive it directly).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <flux/error.hpp>

#include "constraint.hpp"
#include "jobdata.hpp"

namespace flux::joblist {

class JobIndex {
public:
    JobIndex();
    ~JobIndex();
    JobIndex(const JobIndex&) = delete;
    JobIndex& operator=(const JobIndex&) = delete;

    /// Apply one journal record {"id", "entry": RFC 18 event, "jobspec"?,
    /// "R"?}. A submit entry creates the job (a repeated submit, as when
    /// the journal is replayed after a reconnect, starts the record over);
    /// entries for jobs never submitted are ignored. Errors: EPROTO for a
    /// malformed record or event context (the job is left as it was before
    /// that entry).
    Result<void> apply(const nlohmann::json& record);
    /// The same with the parts already taken apart (tests).
    Result<void> apply(JobId id, const nlohmann::json& entry, const nlohmann::json* jobspec = nullptr,
                       const nlohmann::json* R = nullptr);

    const Job* find(JobId id) const;
    std::size_t size() const { return jobs_.size(); }
    std::size_t pending_count() const { return pending_.size(); }
    std::size_t running_count() const { return running_.size(); }
    std::size_t inactive_count() const { return inactive_.size(); }

    /// Jobs matching `c`, pending first, then running, then inactive (only
    /// those with t_inactive > since), at most max_entries (0: no limit).
    std::vector<const Job*> list(const Constraint& c, std::size_t max_entries = 0, double since = 0) const;

    /// Drop an inactive job (job-purge-inactive). Returns false if the job
    /// is unknown or still active.
    bool purge(JobId id);

    /// flux-core's job-list.job-stats response: {job_states: {depend,
    /// priority, sched, run, cleanup, inactive, total}, successful, failed,
    /// canceled, timeout, inactive_purged, queues: [{name, ...same}]}.
    std::string stats_json() const;

    /// Counters as job-stats reports them (tests).
    struct Stats {
        std::int64_t state_count[7] = {};  ///< by state bit index (NEW unused)
        std::int64_t successful = 0, failed = 0, canceled = 0, timeout = 0, inactive_purged = 0;
    };
    const Stats& stats() const { return stats_; }

private:
    struct PendingKey {
        std::int64_t priority;
        JobId id;
        bool operator<(const PendingKey& o) const { return priority != o.priority ? priority > o.priority : id < o.id; }
    };
    struct TimeKey {
        double t;
        JobId id;
        bool operator<(const TimeKey& o) const { return t != o.t ? t > o.t : id > o.id; }
    };

    void transition(Job& job, JobState to, double timestamp, bool conditional = false);
    void revert(Job& job, double timestamp);
    void unlist(const Job& job);
    void enlist(const Job& job);
    void stats_leave(const Job& job);
    void stats_enter(const Job& job);
    void stats_apply(Stats& s, const Job& job, int dir) const;
    Stats* queue_stats(const Job& job);
    void remove(JobId id);
    std::shared_ptr<const SpecInfo> intern_spec(const nlohmann::json& jobspec);

    std::unordered_map<JobId, Job> jobs_;
    std::set<PendingKey> pending_;
    std::set<TimeKey> running_;
    std::set<TimeKey> inactive_;
    Stats stats_;
    std::map<std::string, Stats> queues_;
    // Bulk submissions share one jobspec: remember the last one.
    std::unique_ptr<nlohmann::json> last_jobspec_;
    std::shared_ptr<const SpecInfo> last_spec_;
};

}  // namespace flux::joblist
