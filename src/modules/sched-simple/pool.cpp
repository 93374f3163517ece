// ResourcePool: free/allocated bookkeeping, placement modes, R conversion.
#include "pool.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

namespace flux::sched {

namespace {

std::uint32_t count32(const IdSet& s)
{
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(s.count(), std::numeric_limits<std::uint32_t>::max()));
}

// The lowest `k` members of `s` (all of them if it has fewer).
IdSet lowest(const IdSet& s, std::uint64_t k)
{
    IdSet out;
    for (const auto& r : s.ranges()) {
        if (k == 0)
            break;
        std::uint64_t n = static_cast<std::uint64_t>(r.hi) - r.lo + 1;
        std::uint64_t t = std::min(n, k);
        (void)out.insert_range(r.lo, static_cast<std::uint32_t>(r.lo + t - 1));
        k -= t;
    }
    return out;
}

template <class Op>
Allocation merge(const Allocation& a, const Allocation& b, bool keep_a_only, bool keep_b_only, Op op)
{
    Allocation out;
    std::size_t i = 0, j = 0;
    auto push = [&](Grant g) {
        if (!g.cores.empty() || !g.gpus.empty())
            out.push_back(std::move(g));
    };
    while (i < a.size() || j < b.size()) {
        if (j == b.size() || (i < a.size() && a[i].rank < b[j].rank)) {
            if (keep_a_only)
                push(a[i]);
            i++;
        } else if (i == a.size() || b[j].rank < a[i].rank) {
            if (keep_b_only)
                push(b[j]);
            j++;
        } else {
            push(Grant{a[i].rank, op(a[i].cores, b[j].cores), op(a[i].gpus, b[j].gpus)});
            i++;
            j++;
        }
    }
    return out;
}

std::string slot_desc(const Request& req)
{
    std::string s = fmt::format("{} core(s)", req.cores_per_slot);
    if (req.gpus_per_slot > 0)
        s += fmt::format(" and {} GPU(s)", req.gpus_per_slot);
    return s;
}

}  // namespace

// ---- modes and requests ---------------------------------------------------------------------

Result<AllocMode> parse_alloc_mode(std::string_view s)
{
    if (s == "worst-fit")
        return AllocMode::worst_fit;
    if (s == "best-fit")
        return AllocMode::best_fit;
    if (s == "first-fit")
        return AllocMode::first_fit;
    return fail(EINVAL, fmt::format("unknown allocation mode '{}' (use worst-fit, best-fit or first-fit)", s));
}

const char* alloc_mode_name(AllocMode m)
{
    switch (m) {
        case AllocMode::worst_fit:
            return "worst-fit";
        case AllocMode::best_fit:
            return "best-fit";
        case AllocMode::first_fit:
            return "first-fit";
    }
    return "?";
}

std::uint32_t Request::per_node() const
{
    if (nnodes == 0)
        return 0;
    if (slots_per_node > 0)
        return slots_per_node;
    return (nslots + nnodes - 1) / nnodes;
}

std::uint64_t Request::total_cores() const
{
    std::uint64_t slots = nnodes > 0 ? std::uint64_t{nnodes} * per_node() : nslots;
    return slots * cores_per_slot;
}

std::uint64_t Request::total_gpus() const
{
    std::uint64_t slots = nnodes > 0 ? std::uint64_t{nnodes} * per_node() : nslots;
    return slots * gpus_per_slot;
}

Result<void> Request::validate() const
{
    if (cores_per_slot == 0)
        return fail(EINVAL, "a slot must contain at least one core");
    if (exclusive && nnodes == 0)
        return fail(EINVAL, "exclusive allocation only supported with nnodes");
    if (nnodes == 0 && nslots == 0)
        return fail(EINVAL, "at least one slot must be requested");
    if (nnodes > 0 && per_node() == 0)
        return fail(EINVAL, "at least one slot per node must be requested");
    return {};
}

// ---- allocations ----------------------------------------------------------------------------

Allocation alloc_union(const Allocation& a, const Allocation& b)
{
    return merge(a, b, true, true, [](const IdSet& x, const IdSet& y) { return x | y; });
}

Allocation alloc_difference(const Allocation& a, const Allocation& b)
{
    return merge(a, b, true, false, [](const IdSet& x, const IdSet& y) { return x - y; });
}

Allocation alloc_intersection(const Allocation& a, const Allocation& b)
{
    return merge(a, b, false, false, [](const IdSet& x, const IdSet& y) { return x & y; });
}

std::uint64_t alloc_cores(const Allocation& a)
{
    std::uint64_t n = 0;
    for (const auto& g : a)
        n += g.cores.count();
    return n;
}

std::string alloc_summary(const Allocation& a)
{
    Rlist R;
    for (const auto& g : a)
        (void)R.add_node(g.rank, "", g.cores, g.gpus);
    return R.to_string();
}

// ---- the pool -------------------------------------------------------------------------------

ResourcePool::ResourcePool(const Rlist& R)
{
    IdSet ranks = R.ranks();
    nodes_.reserve(R.nnodes());
    for (std::uint32_t r : ranks) {
        Node n;
        n.rank = r;
        n.hostname = R.hostname_of(r).value_or("");
        n.cores = R.cores_of(r).value_or(IdSet());
        n.gpus = R.gpus_of(r).value_or(IdSet());
        n.free_cores = n.cores;
        n.free_gpus = n.gpus;
        n.ncores = n.nfree_cores = count32(n.cores);
        n.ngpus = n.nfree_gpus = count32(n.gpus);
        total_cores_ += n.ncores;
        total_gpus_ += n.ngpus;
        nodes_.push_back(std::move(n));
    }
    properties_ = R.properties();
    expiration_ = R.expiration();
}

void ResourcePool::count_in(const Node& n, int sign)
{
    if (!n.up)
        return;
    if (sign > 0) {
        free_cores_up_ += n.nfree_cores;
        free_gpus_up_ += n.nfree_gpus;
    } else {
        free_cores_up_ -= n.nfree_cores;
        free_gpus_up_ -= n.nfree_gpus;
    }
}

std::optional<std::size_t> ResourcePool::index_of(std::uint32_t rank) const
{
    auto it =
        std::lower_bound(nodes_.begin(), nodes_.end(), rank, [](const Node& n, std::uint32_t r) { return n.rank < r; });
    if (it == nodes_.end() || it->rank != rank)
        return std::nullopt;
    return static_cast<std::size_t>(it - nodes_.begin());
}

void ResourcePool::set_up(const IdSet& ranks, bool up)
{
    for (std::uint32_t r : ranks) {
        auto i = index_of(r);
        if (!i || nodes_[*i].up == up)
            continue;
        count_in(nodes_[*i], -1);
        nodes_[*i].up = up;
        count_in(nodes_[*i], +1);
    }
}

void ResourcePool::set_all_up(bool up)
{
    for (auto& n : nodes_) {
        count_in(n, -1);
        n.up = up;
        count_in(n, +1);
    }
}

IdSet ResourcePool::up_ranks() const
{
    IdSet out;
    for (const auto& n : nodes_)
        if (n.up)
            (void)out.insert(n.rank);
    return out;
}

Result<void> ResourcePool::allocate(const Allocation& a)
{
    for (const auto& g : a) {
        auto i = index_of(g.rank);
        if (!i)
            return fail(ENOENT, fmt::format("rank {} is not in the resource set", g.rank));
        const Node& n = nodes_[*i];
        if (!(g.cores - n.cores).empty() || !(g.gpus - n.gpus).empty())
            return fail(ENOENT, fmt::format("rank {}: unknown core or gpu ids", g.rank));
        if (!(g.cores - n.free_cores).empty() || !(g.gpus - n.free_gpus).empty())
            return fail(EEXIST, fmt::format("rank {}: resources already allocated", g.rank));
    }
    for (const auto& g : a) {
        Node& n = nodes_[*index_of(g.rank)];
        set_free(n, n.free_cores - g.cores, n.free_gpus - g.gpus);
    }
    return {};
}

Allocation ResourcePool::allocate_available(const Allocation& a)
{
    Allocation taken;
    for (const auto& g : a) {
        auto i = index_of(g.rank);
        if (!i)
            continue;
        Node& n = nodes_[*i];
        Grant t{g.rank, g.cores & n.free_cores, g.gpus & n.free_gpus};
        if (t.cores.empty() && t.gpus.empty())
            continue;
        set_free(n, n.free_cores - t.cores, n.free_gpus - t.gpus);
        taken.push_back(std::move(t));
    }
    return taken;
}

void ResourcePool::release(const Allocation& a)
{
    for (const auto& g : a) {
        auto i = index_of(g.rank);
        if (!i)
            continue;
        Node& n = nodes_[*i];
        set_free(n, n.free_cores | (g.cores & n.cores), n.free_gpus | (g.gpus & n.gpus));
    }
}

void ResourcePool::set_free(Node& n, IdSet cores, IdSet gpus)
{
    count_in(n, -1);
    n.free_cores = std::move(cores);
    n.free_gpus = std::move(gpus);
    n.nfree_cores = count32(n.free_cores);
    n.nfree_gpus = count32(n.free_gpus);
    count_in(n, +1);
}

// ---- placement ------------------------------------------------------------------------------

namespace {

// How placement sees one node.
struct Avail {
    bool up = false;
    bool idle = false;
    std::uint32_t fc = 0, fg = 0;  // free cores / gpus
};

// The pool's current state, the empty instance, or the current state with
// an overlay applied.
class View {
public:
    enum class Kind { current, empty, overlay };
    View(const std::vector<ResourcePool::Node>& nodes, Kind kind, const Overlay* ov = nullptr, bool only_up = true)
        : nodes_(nodes), kind_(kind), ov_(ov), only_up_(only_up)
    {
    }

    Avail avail(std::size_t i) const
    {
        const auto& n = nodes_[i];
        switch (kind_) {
            case Kind::current:
                break;
            case Kind::empty:
                return Avail{only_up_ ? n.up : true, true, n.ncores, n.ngpus};
            case Kind::overlay:
                if (const auto* d = delta(i)) {
                    auto [c, g] = sets_with(n, *d);
                    std::uint32_t fc = count32(c), fg = count32(g);
                    return Avail{n.up, fc == n.ncores && fg == n.ngpus, fc, fg};
                }
                break;
        }
        return Avail{n.up, n.idle(), n.nfree_cores, n.nfree_gpus};
    }

    std::pair<IdSet, IdSet> free_sets(std::size_t i) const
    {
        const auto& n = nodes_[i];
        if (kind_ == Kind::empty)
            return {n.cores, n.gpus};
        if (kind_ == Kind::overlay)
            if (const auto* d = delta(i))
                return sets_with(n, *d);
        return {n.free_cores, n.free_gpus};
    }

private:
    const Overlay::Delta* delta(std::size_t i) const
    {
        if (!ov_ || ov_->by_index.empty())
            return nullptr;
        auto it = ov_->by_index.find(i);
        return it == ov_->by_index.end() ? nullptr : &it->second;
    }
    static std::pair<IdSet, IdSet> sets_with(const ResourcePool::Node& n, const Overlay::Delta& d)
    {
        IdSet c = ((n.free_cores | d.add_cores) & n.cores) - d.sub_cores;
        IdSet g = ((n.free_gpus | d.add_gpus) & n.gpus) - d.sub_gpus;
        return {std::move(c), std::move(g)};
    }

    const std::vector<ResourcePool::Node>& nodes_;
    Kind kind_;
    const Overlay* ov_;
    bool only_up_;
};

// Slots of `req` that fit in a node's free resources.
std::uint64_t capacity(const Avail& a, const Request& req)
{
    if (!a.up)
        return 0;
    std::uint64_t cap = a.fc / req.cores_per_slot;
    if (req.gpus_per_slot > 0)
        cap = std::min<std::uint64_t>(cap, a.fg / req.gpus_per_slot);
    return cap;
}

// Whether node i counts toward a node-level request.
bool node_qualifies(const ResourcePool::Node& n, const Avail& a, const Request& req)
{
    std::uint64_t spn = req.per_node();
    if (req.exclusive) {
        if (!a.up || !a.idle)
            return false;
        Avail whole{true, true, n.ncores, n.ngpus};
        return capacity(whole, req) >= spn;
    }
    return capacity(a, req) >= spn;
}

struct Cand {
    std::size_t idx;
    std::uint32_t fc;
    std::uint64_t cap;  // slots it can still take
};

std::optional<Allocation> place_in(const std::vector<ResourcePool::Node>& nodes, const View& view, const Request& req,
                                   AllocMode mode)
{
    if (!req.validate())
        return std::nullopt;
    std::vector<Cand> cands;
    if (req.nnodes > 0) {
        for (std::size_t i = 0; i < nodes.size(); i++) {
            Avail a = view.avail(i);
            if (node_qualifies(nodes[i], a, req))
                cands.push_back(Cand{i, a.fc, 0});
        }
        if (cands.size() < req.nnodes)
            return std::nullopt;
        auto worst = [](const Cand& x, const Cand& y) { return x.fc != y.fc ? x.fc > y.fc : x.idx < y.idx; };
        auto best = [](const Cand& x, const Cand& y) { return x.fc != y.fc ? x.fc < y.fc : x.idx < y.idx; };
        auto mid = cands.begin() + req.nnodes;
        if (mode == AllocMode::worst_fit)
            std::partial_sort(cands.begin(), mid, cands.end(), worst);
        else if (mode == AllocMode::best_fit)
            std::partial_sort(cands.begin(), mid, cands.end(), best);
        cands.resize(req.nnodes);
        std::sort(cands.begin(), cands.end(), [](const Cand& x, const Cand& y) { return x.idx < y.idx; });
        Allocation out;
        std::uint64_t spn = req.per_node();
        for (const auto& c : cands) {
            const auto& n = nodes[c.idx];
            if (req.exclusive) {
                out.push_back(Grant{n.rank, n.cores, n.gpus});
                continue;
            }
            auto [fcores, fgpus] = view.free_sets(c.idx);
            out.push_back(
                Grant{n.rank, lowest(fcores, spn * req.cores_per_slot), lowest(fgpus, spn * req.gpus_per_slot)});
        }
        return out;
    }

    // Slots anywhere.
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < nodes.size(); i++) {
        Avail a = view.avail(i);
        std::uint64_t cap = capacity(a, req);
        if (cap > 0) {
            cands.push_back(Cand{i, a.fc, cap});
            total += cap;
        }
    }
    if (total < req.nslots)
        return std::nullopt;
    std::vector<std::uint64_t> take(cands.size(), 0);  // slots per candidate
    std::uint64_t left = req.nslots;
    std::vector<std::size_t> heap(cands.size());
    for (std::size_t k = 0; k < heap.size(); k++)
        heap[k] = k;
    if (mode == AllocMode::worst_fit) {
        // Each slot to the node with the most free cores (ties: lowest rank).
        auto less = [&](std::size_t x, std::size_t y) {
            return cands[x].fc != cands[y].fc ? cands[x].fc < cands[y].fc : cands[x].idx > cands[y].idx;
        };
        std::make_heap(heap.begin(), heap.end(), less);
        while (left > 0 && !heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), less);
            std::size_t k = heap.back();
            take[k]++;
            left--;
            cands[k].fc -= req.cores_per_slot;
            if (--cands[k].cap > 0)
                std::push_heap(heap.begin(), heap.end(), less);
            else
                heap.pop_back();
        }
    } else if (mode == AllocMode::best_fit) {
        // Fill the node with the fewest free cores that holds a slot, then
        // the next: that is where each slot would go one at a time.
        auto more = [&](std::size_t x, std::size_t y) {
            return cands[x].fc != cands[y].fc ? cands[x].fc > cands[y].fc : cands[x].idx > cands[y].idx;
        };
        std::make_heap(heap.begin(), heap.end(), more);
        while (left > 0 && !heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), more);
            std::size_t k = heap.back();
            heap.pop_back();
            take[k] = std::min(cands[k].cap, left);
            left -= take[k];
        }
    } else {
        for (std::size_t k = 0; k < cands.size() && left > 0; k++) {
            take[k] = std::min(cands[k].cap, left);
            left -= take[k];
        }
    }
    Allocation out;
    for (std::size_t k = 0; k < cands.size(); k++) {
        if (take[k] == 0)
            continue;
        auto [fcores, fgpus] = view.free_sets(cands[k].idx);
        out.push_back(Grant{nodes[cands[k].idx].rank, lowest(fcores, take[k] * req.cores_per_slot),
                            lowest(fgpus, take[k] * req.gpus_per_slot)});
    }
    return out;  // candidates are in index (= rank) order
}

}  // namespace

std::optional<Allocation> ResourcePool::place(const Request& req, AllocMode mode, const Overlay* overlay) const
{
    if (!overlay || overlay->empty()) {
        // Cheap refusals before looking at every node.
        if (req.total_cores() > free_cores_up_ || (!req.exclusive && req.total_gpus() > free_gpus_up_))
            return std::nullopt;
        return place_in(nodes_, View(nodes_, View::Kind::current), req, mode);
    }
    return place_in(nodes_, View(nodes_, View::Kind::overlay, overlay), req, mode);
}

std::optional<Allocation> ResourcePool::place_empty(const Request& req, AllocMode mode, bool only_up) const
{
    return place_in(nodes_, View(nodes_, View::Kind::empty, nullptr, only_up), req, mode);
}

std::uint64_t ResourcePool::node_score(std::size_t index, const Request& req, const Overlay* overlay) const
{
    View v(nodes_, overlay ? View::Kind::overlay : View::Kind::current, overlay);
    Avail a = v.avail(index);
    if (req.nnodes > 0)
        return node_qualifies(nodes_[index], a, req) ? 1 : 0;
    return capacity(a, req);
}

std::uint64_t ResourcePool::needed_score(const Request& req)
{
    return req.nnodes > 0 ? req.nnodes : req.nslots;
}

Result<void> ResourcePool::check_feasible(const Request& req, AllocMode mode) const
{
    if (auto v = req.validate(); !v)
        return v;
    // Worded as flux-core's: "unsatisfiable request: need N slot(s) of C
    // core(s), only M ...".
    if (req.nnodes > nodes_.size())
        return fail(EOVERFLOW, fmt::format("unsatisfiable request: need {} node(s), only {} in this instance",
                                           req.nnodes, nodes_.size()));
    if (req.total_cores() > total_cores_)
        return fail(EOVERFLOW, fmt::format("unsatisfiable request: need {} slot(s) of {}, only {} core(s) in this "
                                           "instance",
                                           req.nslots, slot_desc(req), total_cores_));
    if (req.total_gpus() > total_gpus_)
        return fail(EOVERFLOW, fmt::format("unsatisfiable request: need {} slot(s) of {}, only {} GPU(s) in this "
                                           "instance",
                                           req.nslots, slot_desc(req), total_gpus_));
    if (place_empty(req, mode, false))
        return {};
    View empty(nodes_, View::Kind::empty, nullptr, false);
    std::uint64_t have = 0;
    for (std::size_t i = 0; i < nodes_.size(); i++)
        have +=
            req.nnodes > 0 ? (node_qualifies(nodes_[i], empty.avail(i), req) ? 1 : 0) : capacity(empty.avail(i), req);
    if (req.nnodes > 0)
        return fail(EOVERFLOW, fmt::format("unsatisfiable request: need {} node(s) with {} slot(s) of {} each, only {} "
                                           "node(s) can hold that",
                                           req.nnodes, req.per_node(), slot_desc(req), have));
    return fail(EOVERFLOW, fmt::format("unsatisfiable request: need {} slot(s) of {}, only {} fit in this instance",
                                       req.nslots, slot_desc(req), have));
}

// ---- conversions and views ------------------------------------------------------------------

Allocation ResourcePool::from_rlist(const Rlist& R) const
{
    Allocation out;
    for (std::uint32_t r : R.ranks()) {
        auto i = index_of(r);
        if (!i)
            continue;
        const Node& n = nodes_[*i];
        Grant g{r, R.cores_of(r).value_or(IdSet()) & n.cores, R.gpus_of(r).value_or(IdSet()) & n.gpus};
        if (!g.cores.empty() || !g.gpus.empty())
            out.push_back(std::move(g));
    }
    return out;
}

Rlist ResourcePool::to_rlist(const Allocation& a, double starttime, double expiration) const
{
    Rlist R;
    IdSet ranks;
    for (const auto& g : a) {
        auto i = index_of(g.rank);
        (void)R.add_node(g.rank, i ? nodes_[*i].hostname : "", g.cores, g.gpus);
        (void)ranks.insert(g.rank);
    }
    for (const auto& [name, pranks] : properties_)
        (void)R.add_property(name, pranks & ranks);
    R.set_starttime(starttime);
    R.set_expiration(expiration);
    return R;
}

Rlist ResourcePool::all() const
{
    Allocation a;
    for (const auto& n : nodes_)
        a.push_back(Grant{n.rank, n.cores, n.gpus});
    return to_rlist(a, 0, expiration_);
}

Rlist ResourcePool::allocated() const
{
    Allocation a;
    for (const auto& n : nodes_) {
        Grant g{n.rank, n.cores - n.free_cores, n.gpus - n.free_gpus};
        if (!g.cores.empty() || !g.gpus.empty())
            a.push_back(std::move(g));
    }
    return to_rlist(a, 0, expiration_);
}

Rlist ResourcePool::down() const
{
    Allocation a;
    for (const auto& n : nodes_)
        if (!n.up)
            a.push_back(Grant{n.rank, n.cores, n.gpus});
    return to_rlist(a, 0, expiration_);
}

}  // namespace flux::sched
