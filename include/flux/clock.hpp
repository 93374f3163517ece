// Wall-clock and monotonic time in seconds, as doubles (the form RFC 18
// timestamps and our timers use).
#pragma once

#include <ctime>

namespace flux {

/// Seconds since the Unix epoch.
inline double wall_time()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Seconds on the monotonic clock (for intervals).
inline double monotonic_time()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace flux
