// Policy: the scheduler's queue and its scheduling pass, FCFS by (priority
// desc, submit time asc, id asc) with EASY backfill. Pure logic: time is a
// parameter and results are returned as decisions for the caller to send.
// Protocol and policy: doc/dev/sched.md.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <flux/error.hpp>
#include <flux/rlist.hpp>

#include "pool.hpp"
#include "reservation.hpp"

namespace flux::sched {

/// A pending allocation request (RFC 27 sched.alloc).
struct Job {
    std::uint64_t id = 0;
    std::uint32_t priority = 0;
    std::uint32_t userid = 0;
    double t_submit = 0;
    Request req;
};

/// Something the caller must tell the job manager after a pass.
struct Decision {
    enum class Type {
        alloc,      ///< resources granted: alloc, starttime, expiration
        annotate,   ///< the job waits for resources (reason_pending)
        unannotate  ///< the job no longer heads the blocked queue
    };
    Type type = Type::alloc;
    std::uint64_t id = 0;
    Allocation alloc;
    double starttime = 0;
    double expiration = 0;       ///< 0: none
    bool was_annotated = false;  ///< alloc: clear the reason_pending annotation
};

class Policy {
public:
    explicit Policy(AllocMode mode = AllocMode::worst_fit) : mode_(mode) {}

    AllocMode mode() const { return mode_; }
    void set_mode(AllocMode m) { mode_ = m; }
    /// Delay before the first blocked job is annotated (seconds), so that a
    /// job that waits only briefly costs no extra message.
    void set_annotate_delay(double seconds) { annotate_delay_ = seconds; }

    /// Set the instance's resources (every node down). Call once, first.
    void set_resources(const Rlist& R);
    const ResourcePool& pool() const { return pool_; }
    void set_up(const IdSet& ranks, bool up);
    void set_expiration(double t);

    /// A job that already holds resources (RFC 27 hello). Records what of R
    /// is in the pool and free. Errors: EEXIST if some of R was already
    /// allocated (the rest is recorded).
    Result<void> add_running(std::uint64_t id, const Rlist& R);

    /// Queue an allocation request. Errors (the request must be denied):
    /// EINVAL for an invalid request, EOVERFLOW "unsatisfiable request: ..."
    /// if the instance could never hold it, EEXIST if the id is pending or
    /// holds resources.
    Result<void> enqueue(const Job& job);
    /// Remove a pending request; false if there was none.
    bool cancel(std::uint64_t id);
    /// Forget every job, pending or running (their resources are free
    /// again): a new job manager is about to say which jobs hold what.
    void forget_jobs();
    /// Change priorities of pending jobs (unknown ids are ignored).
    void prioritize(const std::vector<std::pair<std::uint64_t, std::uint32_t>>& updates);
    /// Return the part of R that job `id` holds; with `final` (or when
    /// nothing is left), everything it holds. Errors: ENOENT if it holds
    /// nothing.
    Result<void> release(std::uint64_t id, const Rlist& R, bool final);

    /// One scheduling pass at `now` (seconds since the epoch). Cheap when
    /// nothing changed but new requests arrived: only those are tried.
    std::vector<Decision> schedule(double now);
    /// When a pass should run even if nothing happens (a pending
    /// annotation), or nullopt.
    std::optional<double> wakeup_time() const;

    /// Whether the instance could ever satisfy `req` (see ResourcePool);
    /// remembered per request shape until the resources change.
    Result<void> check_feasible(const Request& req);

    bool is_pending(std::uint64_t id) const { return jobs_.contains(id); }
    bool is_running(std::uint64_t id) const { return running_.contains(id); }
    std::size_t pending_count() const { return jobs_.size(); }
    std::size_t running_count() const { return running_.size(); }
    /// Pending ids in queue order.
    std::vector<std::uint64_t> queue_order() const;
    /// What job `id` holds (empty if nothing).
    Allocation held(std::uint64_t id) const;
    /// The reservation of the first blocked job, when one was computed.
    const std::optional<Reservation>& reservation() const { return resv_; }
    /// Placement attempts so far (tests check that passes stay cheap).
    std::uint64_t placements() const { return placements_; }

private:
    struct Key {
        std::uint32_t priority;
        double t_submit;
        std::uint64_t id;
    };
    struct KeyLess {
        bool operator()(const Key& a, const Key& b) const
        {
            if (a.priority != b.priority)
                return a.priority > b.priority;
            if (a.t_submit != b.t_submit)
                return a.t_submit < b.t_submit;
            return a.id < b.id;
        }
    };
    // Jobs whose requests differ at most in duration fit or not alike.
    struct Shape {
        Request req;  // duration 0
        explicit Shape(const Request& r) : req(r) { req.duration = 0; }
        bool operator==(const Shape& o) const;
    };
    struct ShapeHash {
        std::size_t operator()(const Shape& s) const;
    };
    struct ShapeInfo {
        std::size_t count = 0;
        std::multiset<double> limits;  // durations > 0 of the pending jobs
    };
    struct Pending {
        Job job;
        bool annotated = false;
    };

    static Key key_of(const Job& j) { return Key{j.priority, j.t_submit, j.id}; }
    void remove_pending(std::uint64_t id);
    void start(const Job& job, Allocation alloc, double now, std::vector<Decision>& out);
    bool try_backfill(const Job& job, double now, std::vector<Decision>& out);
    void mark_dead(const Shape& s, bool withheld, double now);
    bool exhausted() const;
    void annotate(double now, std::vector<Decision>& out);

    AllocMode mode_;
    double annotate_delay_ = 1.0;
    ResourcePool pool_;
    std::set<Key, KeyLess> queue_;
    std::unordered_map<std::uint64_t, Pending> jobs_;
    std::unordered_map<std::uint64_t, RunningJob> running_;
    ExpirationIndex by_expiration_;
    std::unordered_map<Shape, ShapeInfo, ShapeHash> shapes_;  // of pending jobs
    std::unordered_map<Shape, Result<void>, ShapeHash> feasible_;

    // Pass state. A pass is "full" after anything but new requests happened
    // (dirty_); otherwise only the requests that arrived since are tried,
    // against the blocked job's reservation and the shapes known not to fit
    // (free resources only shrink in between).
    bool dirty_ = true;
    std::vector<Key> fresh_;
    std::optional<Key> blocked_;
    double blocked_since_ = 0;
    std::optional<Reservation> resv_;
    Overlay withheld_;  // resv_->resources, as an overlay that takes them away
    // Subsets of shapes_' keys: fits neither now, nor outside the
    // reservation, and shapes no pending job of which can start now.
    std::unordered_set<Shape, ShapeHash> dead_now_, dead_withheld_, exhausted_;
    std::optional<std::uint64_t> annotated_;
    std::uint64_t placements_ = 0;
};

}  // namespace flux::sched
