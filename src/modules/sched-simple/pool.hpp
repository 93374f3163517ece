// ResourcePool: the scheduler's view of the instance's resources (which
// cores and GPUs of which up nodes are free) and the placement of a request
// on it in worst-fit, best-fit or first-fit order. Pure logic: no messages,
// no clock. Protocol and policy: doc/dev/sched.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <flux/error.hpp>
#include <flux/idset.hpp>
#include <flux/rlist.hpp>

namespace flux::sched {

enum class AllocMode { worst_fit, best_fit, first_fit };

/// "worst-fit", "best-fit" or "first-fit". Errors: EINVAL naming the value.
Result<AllocMode> parse_alloc_mode(std::string_view s);
const char* alloc_mode_name(AllocMode m);

/// What a job asks for (RFC 25 V1 shapes: [node ->] slot -> core [, gpu]).
struct Request {
    std::uint32_t nnodes = 0;          ///< 0: slots go anywhere
    std::uint32_t nslots = 1;          ///< total slots (without nodes)
    std::uint32_t slots_per_node = 0;  ///< with nnodes: exact slots on each node
    std::uint32_t cores_per_slot = 1;
    std::uint32_t gpus_per_slot = 0;
    bool exclusive = false;  ///< whole nodes (requires nnodes)
    double duration = 0;     ///< seconds; 0 = no time limit

    /// Slots on each node with nnodes (slots_per_node, else nslots spread).
    std::uint32_t per_node() const;
    /// Total cores / gpus asked for (exclusive: the minimum).
    std::uint64_t total_cores() const;
    std::uint64_t total_gpus() const;
    /// EINVAL for zero counts or exclusive without nodes, with flux-core's
    /// wording ("exclusive allocation only supported with nnodes").
    Result<void> validate() const;
};

/// Resources granted on one execution target.
struct Grant {
    std::uint32_t rank = 0;
    IdSet cores;
    IdSet gpus;
    bool operator==(const Grant&) const = default;
};

/// An allocation: grants in ascending rank order, one per rank, none empty.
using Allocation = std::vector<Grant>;

Allocation alloc_union(const Allocation& a, const Allocation& b);
Allocation alloc_difference(const Allocation& a, const Allocation& b);
Allocation alloc_intersection(const Allocation& a, const Allocation& b);
std::uint64_t alloc_cores(const Allocation& a);
/// "rank[0-1]/core[0-3]" style summary (as Rlist::to_string()).
std::string alloc_summary(const Allocation& a);

/// Extra or withheld resources on top of a pool's current state, used to
/// ask "where would this fit if these were freed / not available".
struct Overlay {
    struct Delta {
        IdSet add_cores, add_gpus;  // treated as free
        IdSet sub_cores, sub_gpus;  // treated as taken (wins over add)
    };
    std::unordered_map<std::size_t, Delta> by_index;  // pool node index -> delta
    bool empty() const { return by_index.empty(); }
};

/// The instance's nodes with their free cores and GPUs and up/down state.
/// Value type; copies are independent.
class ResourcePool {
public:
    ResourcePool() = default;
    /// Every resource of R, all free, every node down until set_up().
    explicit ResourcePool(const Rlist& R);

    /// Mark nodes up or down (unknown ranks are ignored). Down nodes keep
    /// their allocations but receive no new ones.
    void set_up(const IdSet& ranks, bool up);
    void set_all_up(bool up);

    /// Mark `a` allocated. Errors: ENOENT for a rank or id not in the pool,
    /// EEXIST if something is already allocated; the pool is then unchanged.
    Result<void> allocate(const Allocation& a);
    /// Allocate what of `a` is in the pool and free; returns what was taken.
    Allocation allocate_available(const Allocation& a);
    /// Return `a` to the pool; ids not in the pool or already free are ignored.
    void release(const Allocation& a);

    /// Where `req` fits now (nullopt: not now). With `overlay`, as if its
    /// deltas were applied. Deterministic: nodes are chosen by the mode
    /// (ties to the lowest rank), ids within a node lowest first.
    std::optional<Allocation> place(const Request& req, AllocMode mode, const Overlay* overlay = nullptr) const;
    /// Where `req` would fit on the empty instance: every node free and,
    /// unless `only_up`, up.
    std::optional<Allocation> place_empty(const Request& req, AllocMode mode, bool only_up) const;
    /// Whether `req` could ever be satisfied by the instance's resources,
    /// ignoring allocations and up/down state. Errors: EINVAL (invalid
    /// request), EOVERFLOW "unsatisfiable request: <why>".
    Result<void> check_feasible(const Request& req, AllocMode mode) const;

    /// How many units of `req` node `index` holds (slots without nnodes,
    /// else 0 or 1 node), with the overlay applied; and how many are needed.
    std::uint64_t node_score(std::size_t index, const Request& req, const Overlay* overlay = nullptr) const;
    static std::uint64_t needed_score(const Request& req);

    /// Index of a rank's node, or nullopt.
    std::optional<std::size_t> index_of(std::uint32_t rank) const;
    std::size_t size() const { return nodes_.size(); }

    /// Convert: R -> grants for the ranks of R that are in the pool,
    /// restricted to the pool's ids. R <- grants, with hostnames, the
    /// properties of those ranks and the given time window.
    Allocation from_rlist(const Rlist& R) const;
    Rlist to_rlist(const Allocation& a, double starttime = 0, double expiration = 0) const;

    /// sched.resource-status views: every resource; allocated cores and
    /// gpus; whole nodes that are down.
    Rlist all() const;
    Rlist allocated() const;
    Rlist down() const;

    std::uint64_t free_cores_up() const { return free_cores_up_; }
    std::uint64_t free_gpus_up() const { return free_gpus_up_; }
    std::uint64_t total_cores() const { return total_cores_; }
    std::uint64_t total_gpus() const { return total_gpus_; }
    IdSet up_ranks() const;
    double expiration() const { return expiration_; }
    void set_expiration(double t) { expiration_ = t > 0 ? t : 0; }

    struct Node {
        std::uint32_t rank = 0;
        std::string hostname;
        IdSet cores, gpus;            // all
        IdSet free_cores, free_gpus;  // subsets of the above
        std::uint32_t ncores = 0, ngpus = 0, nfree_cores = 0, nfree_gpus = 0;
        bool up = false;
        bool idle() const { return nfree_cores == ncores && nfree_gpus == ngpus; }
    };
    const Node& node(std::size_t index) const { return nodes_[index]; }

private:
    void count_in(const Node& n, int sign);
    /// Replace a node's free cores and gpus, keeping the counts right.
    void set_free(Node& n, IdSet cores, IdSet gpus);

    std::vector<Node> nodes_;  // ascending rank
    Rlist::PropertyMap properties_;
    double expiration_ = 0;
    std::uint64_t free_cores_up_ = 0, free_gpus_up_ = 0;
    std::uint64_t total_cores_ = 0, total_gpus_ = 0;
};

}  // namespace flux::sched
