// Rlist: building, queries, subsets and renumbering of RFC 20 resource sets.
#include "flux/rlist.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "rlist_internal.hpp"

namespace flux {

using rlist_detail::deref;
using rlist_detail::same_set;
using rlist_detail::share;

namespace rlist_detail {

char invalid_property_char(std::string_view name)
{
    // RFC 20: property names must not contain ! & ' " ^ ` | ( )
    static constexpr std::string_view illegal = "!&'\"^`|()";
    for (char c : name) {
        if (illegal.find(c) != std::string_view::npos)
            return c;
    }
    return '\0';
}

}  // namespace rlist_detail

namespace {

// RFC 29 hostnames: printable, non-space ASCII other than '[', ']', ','.
bool valid_hostname(std::string_view host)
{
    return std::all_of(host.begin(), host.end(),
                       [](char c) { return c > ' ' && c <= '~' && c != '[' && c != ']' && c != ','; });
}

// A hostname as prefix + decimal number without leading zeros, e.g.
// "node12" -> {"node", 12}; nullopt for names that do not end that way.
struct NumberedHost {
    std::string_view prefix;
    std::uint64_t number = 0;
};

std::optional<NumberedHost> split_host(std::string_view host)
{
    std::size_t d = host.size();
    while (d > 0 && host[d - 1] >= '0' && host[d - 1] <= '9')
        d--;
    std::size_t ndigits = host.size() - d;
    if (d == 0 || ndigits == 0 || ndigits > 9 || (ndigits > 1 && host[d] == '0'))
        return std::nullopt;
    NumberedHost h{host.substr(0, d), 0};
    for (char c : host.substr(d))
        h.number = h.number * 10 + static_cast<std::uint64_t>(c - '0');
    return h;
}

// Apply f to each property's ranks, dropping properties left empty.
template <class F>
void update_properties(Rlist::PropertyMap& props, F f)
{
    for (auto it = props.begin(); it != props.end();) {
        f(it->second);
        it = it->second.empty() ? props.erase(it) : std::next(it);
    }
}

}  // namespace

const Rlist::Node* Rlist::find(std::uint32_t rank) const
{
    auto it =
        std::lower_bound(nodes_.begin(), nodes_.end(), rank, [](const Node& n, std::uint32_t r) { return n.rank < r; });
    return it != nodes_.end() && it->rank == rank ? &*it : nullptr;
}

Rlist::Node* Rlist::find(std::uint32_t rank)
{
    return const_cast<Node*>(std::as_const(*this).find(rank));
}

Result<void> Rlist::add_node(std::uint32_t rank, std::string_view hostname, const IdSet& cores, const IdSet& gpus)
{
    if (rank > IdSet::max_id)
        return fail(EINVAL, fmt::format("rank {} exceeds {}", rank, IdSet::max_id));
    if (!valid_hostname(hostname))
        return fail(EINVAL, fmt::format("rank {}: invalid hostname '{}'", rank, hostname));
    auto it =
        std::lower_bound(nodes_.begin(), nodes_.end(), rank, [](const Node& n, std::uint32_t r) { return n.rank < r; });
    if (it != nodes_.end() && it->rank == rank) {
        if (!hostname.empty() && !it->hostname.empty() && it->hostname != hostname)
            return fail(EINVAL,
                        fmt::format("rank {}: hostname '{}' conflicts with '{}'", rank, hostname, it->hostname));
        if (it->hostname.empty())
            it->hostname = hostname;
        if (!cores.empty())
            it->cores = share(deref(it->cores) | cores);
        if (!gpus.empty())
            it->gpus = share(deref(it->gpus) | gpus);
        return {};
    }
    if (nodes_.size() >= max_targets)
        return fail(EINVAL, fmt::format("too many execution targets (limit {})", max_targets));
    nodes_.insert(it, Node{rank, std::string(hostname), share(cores), share(gpus)});
    return {};
}

Result<void> Rlist::add_property(std::string_view name, const IdSet& ranks)
{
    if (name.empty())
        return fail(EINVAL, "property name is empty");
    if (char c = rlist_detail::invalid_property_char(name))
        return fail(EINVAL, fmt::format("invalid character '{}' in property \"{}\"", c, name));
    if (ranks.empty())
        return {};
    IdSet unknown = ranks - this->ranks();
    if (!unknown.empty())
        return fail(EINVAL, fmt::format("property \"{}\": rank{} {} not in the resource set", name,
                                        unknown.count() == 1 ? "" : "s", unknown.encode()));
    auto it = properties_.find(name);
    if (it == properties_.end())
        properties_.emplace(std::string(name), ranks);
    else
        it->second |= ranks;
    return {};
}

IdSet Rlist::ranks() const
{
    IdSet out;
    std::size_t i = 0;
    while (i < nodes_.size()) {
        std::size_t j = i;
        while (j + 1 < nodes_.size() && nodes_[j + 1].rank == nodes_[j].rank + 1)
            j++;
        (void)out.insert_range(nodes_[i].rank, nodes_[j].rank);
        i = j + 1;
    }
    return out;
}

std::uint64_t Rlist::ncores() const
{
    std::uint64_t n = 0;
    for (const Node& node : nodes_)
        n += deref(node.cores).count();
    return n;
}

std::uint64_t Rlist::ngpus() const
{
    std::uint64_t n = 0;
    for (const Node& node : nodes_)
        n += deref(node.gpus).count();
    return n;
}

Rlist::Counts Rlist::counts() const
{
    return Counts{nodes_.size(), ncores(), ngpus()};
}

Hostlist Rlist::nodelist() const
{
    // Hostlist::append() parses every name; instead write runs of
    // consecutively numbered hosts as "prefix[lo-hi]" and parse once.
    std::vector<std::string_view> names;
    names.reserve(nodes_.size());
    for (const Node& n : nodes_) {
        if (!n.hostname.empty())
            names.push_back(n.hostname);
    }
    std::string text;
    for (std::size_t i = 0; i < names.size();) {
        if (!text.empty())
            text += ',';
        auto first = split_host(names[i]);
        std::size_t j = i + 1;
        while (first && j < names.size()) {
            auto next = split_host(names[j]);
            if (!next || next->prefix != first->prefix || next->number != first->number + (j - i))
                break;
            j++;
        }
        if (j - i > 1)
            text += fmt::format("{}[{}-{}]", first->prefix, first->number, first->number + (j - i - 1));
        else
            text += names[i];
        i = j;
    }
    if (auto hosts = Hostlist::parse(text))
        return std::move(*hosts);
    Hostlist hosts;  // not reached for valid hostnames; keep it correct anyway
    for (std::string_view name : names)
        (void)hosts.append(name);
    return hosts;
}

std::optional<std::string> Rlist::nodelist_text() const
{
    for (const Node& n : nodes_) {
        if (n.hostname.empty())
            return std::nullopt;
    }
    return nodelist().encode();
}

Result<std::string> Rlist::hostname_of(std::uint32_t rank) const
{
    if (const Node* n = find(rank))
        return n->hostname;
    return fail(ENOENT, fmt::format("rank {} is not in the resource set", rank));
}

Result<IdSet> Rlist::cores_of(std::uint32_t rank) const
{
    if (const Node* n = find(rank))
        return deref(n->cores);
    return fail(ENOENT, fmt::format("rank {} is not in the resource set", rank));
}

Result<IdSet> Rlist::gpus_of(std::uint32_t rank) const
{
    if (const Node* n = find(rank))
        return deref(n->gpus);
    return fail(ENOENT, fmt::format("rank {} is not in the resource set", rank));
}

Result<std::vector<std::string>> Rlist::properties_of(std::uint32_t rank) const
{
    if (!find(rank))
        return fail(ENOENT, fmt::format("rank {} is not in the resource set", rank));
    std::vector<std::string> out;
    for (const auto& [name, ids] : properties_) {
        if (ids.contains(rank))
            out.push_back(name);
    }
    return out;
}

Result<std::uint32_t> Rlist::rank_of(std::string_view hostname) const
{
    for (const Node& n : nodes_) {
        if (!hostname.empty() && n.hostname == hostname)
            return n.rank;
    }
    return fail(ENOENT, fmt::format("host '{}' is not in the resource set", hostname));
}

void Rlist::restrict_properties()
{
    if (properties_.empty())
        return;
    IdSet all = ranks();
    update_properties(properties_, [&all](IdSet& ids) { ids &= all; });
}

void Rlist::merge_properties(const PropertyMap& other)
{
    for (const auto& [name, ids] : other) {
        auto it = properties_.find(name);
        if (it == properties_.end())
            properties_.emplace(name, ids);
        else
            it->second |= ids;
    }
}

Rlist Rlist::copy_ranks(const IdSet& ranks) const
{
    Rlist out;
    for (const Node& n : nodes_) {
        if (ranks.contains(n.rank))
            out.nodes_.push_back(n);
    }
    out.properties_ = properties_;
    out.restrict_properties();
    out.starttime_ = starttime_;
    out.expiration_ = expiration_;
    if (!out.empty())
        out.scheduling_ = scheduling_;
    return out;
}

std::size_t Rlist::remove_ranks(const IdSet& ranks)
{
    std::size_t removed = std::erase_if(nodes_, [&ranks](const Node& n) { return ranks.contains(n.rank); });
    if (removed > 0)
        update_properties(properties_, [&ranks](IdSet& ids) { ids -= ranks; });
    return removed;
}

void Rlist::rerank()
{
    // Ranks keep their order, so each property range maps onto the range of
    // positions its first and last ranks occupy.
    auto by_rank = [](const Node& n, std::uint32_t r) { return n.rank < r; };
    for (auto& [name, ids] : properties_) {
        IdSet out;
        for (const IdSet::Range& r : ids.ranges()) {
            auto lo = std::lower_bound(nodes_.begin(), nodes_.end(), r.lo, by_rank);
            auto hi = std::lower_bound(lo, nodes_.end(), static_cast<std::uint64_t>(r.hi) + 1,
                                       [](const Node& n, std::uint64_t x) { return n.rank < x; });
            if (lo != hi)
                (void)out.insert_range(static_cast<std::uint32_t>(lo - nodes_.begin()),
                                       static_cast<std::uint32_t>(hi - nodes_.begin() - 1));
        }
        ids = std::move(out);
    }
    for (std::size_t i = 0; i < nodes_.size(); i++)
        nodes_[i].rank = static_cast<std::uint32_t>(i);
}

Result<void> Rlist::rerank(const Hostlist& hosts)
{
    if (hosts.size() > nodes_.size())
        return fail(EOVERFLOW,
                    fmt::format("number of hosts ({}) is greater than node count ({})", hosts.size(), nodes_.size()));
    if (hosts.size() < nodes_.size())
        return fail(ENOSPC,
                    fmt::format("number of hosts ({}) is less than node count ({})", hosts.size(), nodes_.size()));
    std::unordered_map<std::string_view, std::size_t> index;
    index.reserve(nodes_.size());
    for (std::size_t i = 0; i < nodes_.size(); i++) {
        if (!nodes_[i].hostname.empty())
            index.emplace(nodes_[i].hostname, i);
    }
    constexpr std::uint32_t unset = UINT32_MAX;
    std::vector<std::uint32_t> new_rank(nodes_.size(), unset);
    std::uint32_t next = 0;
    for (const std::string& host : hosts) {
        auto it = index.find(host);
        if (it == index.end())
            return fail(ENOENT, fmt::format("host {} not found in resources", host));
        if (new_rank[it->second] != unset)
            return fail(EEXIST, fmt::format("host {} is listed more than once", host));
        new_rank[it->second] = next++;
    }
    auto position = [this](std::uint32_t rank) { return static_cast<std::size_t>(find(rank) - nodes_.data()); };
    for (auto& [name, ids] : properties_) {
        IdSet out;
        for (std::uint32_t r : ids) {
            if (find(r))
                (void)out.insert(new_rank[position(r)]);
        }
        ids = std::move(out);
    }
    for (std::size_t i = 0; i < nodes_.size(); i++)
        nodes_[i].rank = new_rank[i];
    std::sort(nodes_.begin(), nodes_.end(), [](const Node& a, const Node& b) { return a.rank < b.rank; });
    return {};
}

void Rlist::renumber_cores()
{
    // Keyed by the original set, which the entry keeps alive.
    std::unordered_map<const IdSet*, std::pair<SetPtr, SetPtr>> done;
    for (Node& n : nodes_) {
        if (!n.cores)
            continue;
        auto it = done.find(n.cores.get());
        if (it == done.end()) {
            IdSet ids;
            (void)ids.insert_range(0, static_cast<std::uint32_t>(n.cores->count() - 1));
            it = done.emplace(n.cores.get(), std::pair{n.cores, share(std::move(ids))}).first;
        }
        n.cores = it->second.second;
    }
}

bool Rlist::operator==(const Rlist& other) const
{
    if (nodes_.size() != other.nodes_.size() || properties_ != other.properties_ || starttime_ != other.starttime_ ||
        expiration_ != other.expiration_ || scheduling_ != other.scheduling_)
        return false;
    for (std::size_t i = 0; i < nodes_.size(); i++) {
        const Node& a = nodes_[i];
        const Node& b = other.nodes_[i];
        if (a.rank != b.rank || a.hostname != b.hostname || !same_set(a.cores, b.cores) || !same_set(a.gpus, b.gpus))
            return false;
    }
    return true;
}

}  // namespace flux
