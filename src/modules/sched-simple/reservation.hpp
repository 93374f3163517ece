// Reservation: when and where the first blocked job of the queue would start
// if running jobs end at their expiration (EASY backfill's "shadow time" and
// reserved resources). Policy: doc/dev/sched.md.
#pragma once

#include <cstdint>
#include <limits>
#include <map>

#include "pool.hpp"

namespace flux::sched {

/// A job holding resources. expiration: seconds since the epoch, 0 = none.
struct RunningJob {
    Allocation alloc;
    double expiration = 0;
};

struct Reservation {
    /// Shadow time T: when the resources will be free. Infinity when it
    /// cannot be known (jobs without a time limit hold what is needed).
    double start = std::numeric_limits<double>::infinity();
    /// Where the job would run at T (the resources withheld from jobs that
    /// would still be running then). Empty if it cannot run even on every
    /// up node.
    Allocation resources;

    bool bounded() const { return start != std::numeric_limits<double>::infinity(); }
};

/// Running jobs with a time limit by expiration (the release order).
using ExpirationIndex = std::multimap<double, const RunningJob*>;

/// The reservation for `req`, which does not fit now. Releases the jobs of
/// `by_expiration` in order on a simulated copy of the pool until `req`
/// fits there; T is that job's expiration (not before `now`). If it never
/// fits, T is infinity and the resources are where `req` would go on the
/// empty instance's up nodes. Cost: O(nodes + jobs released).
Reservation reserve(const ResourcePool& pool, const ExpirationIndex& by_expiration, const Request& req, AllocMode mode,
                    double now);

}  // namespace flux::sched
