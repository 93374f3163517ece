// Reservation: EASY backfill's shadow time and reserved resources.
#include "reservation.hpp"

#include <algorithm>

namespace flux::sched {

Reservation reserve(const ResourcePool& pool, const ExpirationIndex& by_expiration, const Request& req, AllocMode mode,
                    double now)
{
    // Placement succeeds exactly when the nodes' scores add up to what is
    // needed, so releases can be counted incrementally and the (costlier)
    // placement done once, at the time that is found.
    const std::uint64_t need = ResourcePool::needed_score(req);
    std::uint64_t have = 0;
    for (std::size_t i = 0; i < pool.size(); i++)
        have += pool.node_score(i, req);
    Overlay freed;
    auto it = by_expiration.begin();
    double t = now;
    while (true) {
        if (have >= need) {
            if (auto a = pool.place(req, mode, &freed))
                return Reservation{std::max(t, now), std::move(*a)};
        }
        if (it == by_expiration.end())
            break;
        t = it->first;
        for (; it != by_expiration.end() && it->first == t; ++it) {
            for (const auto& g : it->second->alloc) {
                auto idx = pool.index_of(g.rank);
                if (!idx)
                    continue;
                std::uint64_t before = pool.node_score(*idx, req, &freed);
                auto& d = freed.by_index[*idx];
                d.add_cores |= g.cores;
                d.add_gpus |= g.gpus;
                have = have - before + pool.node_score(*idx, req, &freed);
            }
        }
    }
    Reservation r;
    if (auto a = pool.place_empty(req, mode, true))
        r.resources = std::move(*a);
    return r;
}

}  // namespace flux::sched
