// Rlist set algebra (union, difference, intersection) over shared id sets.
#include "flux/rlist.hpp"

#include <functional>
#include <string>

#include <fmt/format.h>

#include "rlist_internal.hpp"

namespace flux {

namespace rlist_detail {

const IdSet& deref(const SetPtr& p)
{
    static const IdSet empty;
    return p ? *p : empty;
}

bool same_set(const SetPtr& a, const SetPtr& b)
{
    return a == b || deref(a) == deref(b);
}

std::size_t hash_set(const IdSet& s)
{
    std::size_t h = s.ranges().size();
    for (const IdSet::Range& r : s.ranges()) {
        std::uint64_t v = (static_cast<std::uint64_t>(r.lo) << 32) | r.hi;
        h ^= std::hash<std::uint64_t>{}(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    return h;
}

SetPtr SetOpCache::apply(const SetPtr& a, const SetPtr& b)
{
    switch (op_) {
        case SetOp::unite:
            if (!a)
                return b;
            if (!b || a == b)
                return a;
            break;
        case SetOp::subtract:
            if (!a || a == b)
                return nullptr;
            if (!b)
                return a;
            break;
        case SetOp::intersect:
            if (!a || !b)
                return nullptr;
            if (a == b)
                return a;
            break;
    }
    if (valid_ && a == last_a_ && b == last_b_)
        return last_result_;
    IdSet r = op_ == SetOp::unite ? *a | *b : op_ == SetOp::subtract ? *a - *b : *a & *b;
    SetPtr out;
    if (r == *a)
        out = a;
    else if (op_ != SetOp::subtract && r == *b)
        out = b;
    else
        out = share(std::move(r));
    last_a_ = a;
    last_b_ = b;
    last_result_ = out;
    valid_ = true;
    return out;
}

}  // namespace rlist_detail

using rlist_detail::SetOp;
using rlist_detail::SetOpCache;

namespace {

// The hostname a rank present in both operands gets: they must agree
// unless one is empty.
template <class Node>
Result<const std::string*> merged_hostname(const Node& a, const Node& b)
{
    if (a.hostname.empty())
        return &b.hostname;
    if (!b.hostname.empty() && a.hostname != b.hostname)
        return fail(EINVAL, fmt::format("rank {}: hostname '{}' differs from '{}'", a.rank, a.hostname, b.hostname));
    return &a.hostname;
}

}  // namespace

Result<Rlist> Rlist::union_with(const Rlist& other) const
{
    const auto& a = nodes_;
    const auto& b = other.nodes_;
    Rlist out;
    out.nodes_.reserve(a.size() + b.size());
    SetOpCache cores(SetOp::unite);
    SetOpCache gpus(SetOp::unite);
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() || j < b.size()) {
        if (j == b.size() || (i < a.size() && a[i].rank < b[j].rank)) {
            out.nodes_.push_back(a[i++]);
        } else if (i == a.size() || b[j].rank < a[i].rank) {
            out.nodes_.push_back(b[j++]);
        } else {
            auto host = merged_hostname(a[i], b[j]);
            if (!host)
                return std::unexpected(host.error());
            out.nodes_.push_back(
                Node{a[i].rank, **host, cores.apply(a[i].cores, b[j].cores), gpus.apply(a[i].gpus, b[j].gpus)});
            i++;
            j++;
        }
    }
    if (out.nodes_.size() > max_targets)
        return fail(EINVAL, fmt::format("too many execution targets (limit {})", max_targets));
    out.properties_ = properties_;
    out.merge_properties(other.properties_);
    out.starttime_ = starttime_;
    out.expiration_ = expiration_;
    out.scheduling_ = scheduling_ ? scheduling_ : other.scheduling_;
    return out;
}

Result<Rlist> Rlist::difference(const Rlist& other) const
{
    const auto& b = other.nodes_;
    Rlist out;
    out.nodes_.reserve(nodes_.size());
    SetOpCache cores(SetOp::subtract);
    SetOpCache gpus(SetOp::subtract);
    std::size_t j = 0;
    for (const Node& n : nodes_) {
        while (j < b.size() && b[j].rank < n.rank)
            j++;
        if (j == b.size() || b[j].rank != n.rank) {
            if (n.has_resources())
                out.nodes_.push_back(n);
            continue;
        }
        if (auto host = merged_hostname(n, b[j]); !host)
            return std::unexpected(host.error());
        Node d{n.rank, n.hostname, cores.apply(n.cores, b[j].cores), gpus.apply(n.gpus, b[j].gpus)};
        if (d.has_resources())
            out.nodes_.push_back(std::move(d));
    }
    out.properties_ = properties_;
    out.restrict_properties();
    out.starttime_ = starttime_;
    out.expiration_ = expiration_;
    if (!out.empty())
        out.scheduling_ = scheduling_;
    return out;
}

Result<Rlist> Rlist::intersection(const Rlist& other) const
{
    const auto& b = other.nodes_;
    Rlist out;
    SetOpCache cores(SetOp::intersect);
    SetOpCache gpus(SetOp::intersect);
    std::size_t j = 0;
    for (const Node& n : nodes_) {
        while (j < b.size() && b[j].rank < n.rank)
            j++;
        if (j == b.size())
            break;
        if (b[j].rank != n.rank)
            continue;
        auto host = merged_hostname(n, b[j]);
        if (!host)
            return std::unexpected(host.error());
        Node x{n.rank, **host, cores.apply(n.cores, b[j].cores), gpus.apply(n.gpus, b[j].gpus)};
        if (x.has_resources())
            out.nodes_.push_back(std::move(x));
    }
    out.properties_ = properties_;
    out.merge_properties(other.properties_);
    out.restrict_properties();
    out.starttime_ = starttime_;
    out.expiration_ = expiration_;
    if (!out.empty())
        out.scheduling_ = scheduling_;
    return out;
}

}  // namespace flux
