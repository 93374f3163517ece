// Rlist: a resource set in RFC 20 "R version 1" form (ranks, cores, gpus,
// hostnames, properties, time window), with the set algebra schedulers and
// the execution system apply to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "flux/error.hpp"
#include "flux/hostlist.hpp"
#include "flux/idset.hpp"

namespace flux {

/// A set of execution targets (broker ranks), each with a hostname (may be
/// empty), a set of core ids, a set of gpu ids and a set of property names,
/// plus the set's start time and expiration (seconds since the epoch,
/// 0 = unset) and an opaque RFC 20 "scheduling" value carried along.
///
/// Per-rank core/gpu sets are immutable and shared between ranks and
/// copies, so an R of many identical nodes costs one IdSet, not one per rank.
/// Value type: copyable, comparable; not thread-safe (copies may be used on
/// different threads).
class Rlist {
public:
    /// Resource totals.
    struct Counts {
        std::size_t nnodes = 0;
        std::uint64_t ncores = 0;
        std::uint64_t ngpus = 0;
        bool operator==(const Counts&) const = default;
    };

    /// Property name -> ranks carrying it (never empty, always a subset of
    /// ranks()).
    using PropertyMap = std::map<std::string, IdSet, std::less<>>;

    /// Upper bound on execution targets in one set, so a hostile
    /// "rank": "0-4294967294" is refused instead of exhausting memory.
    static constexpr std::size_t max_targets = 1u << 20;

    Rlist() = default;

    // --- RFC 20 codec (rlist_json.cpp) ---

    /// Decode an R version 1 JSON document. Reads execution.R_lite (required;
    /// entries {"rank": IDSET, "children": {"core": IDSET, "gpu": IDSET}},
    /// one entry may cover many ranks, a missing "core" means none),
    /// execution.nodelist (optional array of RFC 29 hostlists, expanded in
    /// rank order; must name exactly one host per rank),
    /// execution.properties (optional {name: IDSET of ranks}),
    /// execution.starttime/expiration (optional numbers, <= 0 is unset) and
    /// the top-level "scheduling" value (kept verbatim). Unknown keys are
    /// ignored (RFC 20 reserves them). A rank named in two R_lite entries is
    /// merged if the entries' ids are disjoint (as flux-core does).
    /// Errors: EINVAL, the text naming the offending part (bad JSON, version
    /// != 1, bad idset or hostlist text, missing rank/children, duplicate
    /// resources on a rank, nodelist length mismatch, unknown rank or illegal
    /// character in a property, expiration not after starttime, too many
    /// ranks).
    static Result<Rlist> parse(std::string_view json_text);
    static Result<Rlist> from_json(const nlohmann::json& R);

    /// Encode as compact R version 1 JSON: ranks with identical core and
    /// gpu sets share one R_lite entry (entries ordered by first rank;
    /// "core" always present, "gpu" only when non-empty), "nodelist" as one
    /// compressed hostlist (omitted if any rank lacks a hostname),
    /// "properties" when any, "starttime"/"expiration" always, "scheduling"
    /// only when set.
    std::string to_json() const;

    // --- [[resource.config]] (rlist_config.cpp) ---

    /// Build a set from a flux-config-resource(5) "resource.config" array:
    /// each entry {"hosts": HOSTLIST (required), "cores": IDSET, "gpus":
    /// IDSET, "properties": [NAME, ...]}; no other keys. Ranks are assigned
    /// in the order hosts first appear across entries (0, 1, ...); a host in
    /// several entries gets the union of their resources and properties.
    /// Callers that must match broker ranks to a bootstrap host list then
    /// call rerank(hosts).
    /// Errors: EINVAL: not an array, an entry with a missing/ill-typed/
    /// unknown key or bad hostlist/idset/property ("config[2]: invalid idset
    /// cores='x': ..."), no hosts at all, or hosts left with no resources.
    static Result<Rlist> from_config(const nlohmann::json& config);

    // --- building (rlist.cpp) ---

    /// Add resources to a rank, creating it if needed (cores and gpus are
    /// unioned into an existing rank). hostname may be empty; a non-empty
    /// hostname must agree with the rank's existing one.
    /// Errors: EINVAL on hostname conflict, a hostname RFC 29 cannot carry
    /// (space, control character, '[', ']' or ','), rank > IdSet::max_id,
    /// or when the set already holds max_targets ranks.
    Result<void> add_node(std::uint32_t rank, std::string_view hostname, const IdSet& cores, const IdSet& gpus = {});

    /// Give property `name` to `ranks` (added to any it already has).
    /// Errors: EINVAL if the name is empty or holds one of ! & ' " ^ ` | ( )
    /// (RFC 20), or a rank is not in this set (the set is then unchanged).
    Result<void> add_property(std::string_view name, const IdSet& ranks);

    void set_starttime(double t) { starttime_ = t > 0 ? t : 0; }
    void set_expiration(double t) { expiration_ = t > 0 ? t : 0; }

    /// Set the opaque "scheduling" value from JSON text, or clear it with
    /// nullopt. Errors: EINVAL if the text is not valid JSON.
    Result<void> set_scheduling(std::optional<std::string_view> json_text);

    // --- queries (rlist.cpp) ---

    bool empty() const { return nodes_.empty(); }
    IdSet ranks() const;
    std::size_t nnodes() const { return nodes_.size(); }
    std::uint64_t ncores() const;
    std::uint64_t ngpus() const;
    Counts counts() const;

    /// Hostnames in rank order; ranks without a hostname are skipped.
    Hostlist nodelist() const;

    /// Per-rank lookups. Errors: ENOENT if the rank is not in the set.
    Result<std::string> hostname_of(std::uint32_t rank) const;
    Result<IdSet> cores_of(std::uint32_t rank) const;
    Result<IdSet> gpus_of(std::uint32_t rank) const;
    /// Property names of a rank, sorted.
    Result<std::vector<std::string>> properties_of(std::uint32_t rank) const;

    /// The lowest rank with this hostname. Errors: ENOENT. O(nnodes).
    Result<std::uint32_t> rank_of(std::string_view hostname) const;

    const PropertyMap& properties() const { return properties_; }
    double starttime() const { return starttime_; }
    double expiration() const { return expiration_; }
    const std::optional<std::string>& scheduling() const { return scheduling_; }

    /// Short human-readable form in the style of flux-core's rlist_dumps():
    /// "rank[0-3]/core[0-63],gpu[0-1] rank4/core0"; ranks with no
    /// resources are left out; "" if none.
    std::string to_string() const;

    // --- set algebra (rlist_setops.cpp) ---
    // Results keep this set's starttime/expiration. A rank present in both
    // operands must have the same hostname unless one of them is empty.
    // Errors: EINVAL naming the rank on a hostname conflict.

    /// Every resource in this set or in `other`; properties of both.
    /// "scheduling" is this set's, else other's.
    Result<Rlist> union_with(const Rlist& other) const;

    /// This set's resources minus those in `other`; ranks left without cores
    /// and gpus are dropped. Properties of the remaining ranks are kept.
    Result<Rlist> difference(const Rlist& other) const;

    /// Resources in both sets; ranks left without cores and gpus are
    /// dropped. The remaining ranks keep the properties of both operands.
    Result<Rlist> intersection(const Rlist& other) const;

    // --- subsets and renumbering (rlist.cpp) ---

    /// The ranks of this set that are in `ranks`, with their properties.
    Rlist copy_ranks(const IdSet& ranks) const;

    /// Drop the ranks in `ranks`; returns how many were present.
    std::size_t remove_ranks(const IdSet& ranks);

    /// Renumber execution targets 0..nnodes()-1 in ascending rank order
    /// (for passing R to a child instance). Properties follow their ranks.
    void rerank();

    /// Renumber so that hosts.nth(i) becomes rank i. On error the set is
    /// unchanged. Errors: EOVERFLOW if hosts has more entries than the set
    /// has ranks, ENOSPC if fewer, ENOENT if a host is not in the set,
    /// EEXIST if a host is listed twice.
    Result<void> rerank(const Hostlist& hosts);

    /// Renumber each rank's core ids to 0..count-1 (gpu ids unchanged), as
    /// flux-core does when remapping R for a child instance.
    void renumber_cores();

    /// Same ranks, hostnames, id sets, properties, times and scheduling.
    bool operator==(const Rlist& other) const;

private:
    // An immutable, possibly shared id set; null means empty.
    using SetPtr = std::shared_ptr<const IdSet>;

    struct Node {
        std::uint32_t rank = 0;
        std::string hostname;
        SetPtr cores;
        SetPtr gpus;

        bool has_resources() const { return cores || gpus; }
    };

    // Ranks sharing identical core and gpu sets (for encoding).
    struct Group {
        IdSet ranks;
        const Node* node = nullptr;  // any member, for its sets
    };

    const Node* find(std::uint32_t rank) const;
    Node* find(std::uint32_t rank);
    std::vector<Group> groups() const;
    void restrict_properties();
    void merge_properties(const PropertyMap& other);
    std::optional<std::string> nodelist_text() const;

    std::vector<Node> nodes_;  // strictly ascending by rank
    PropertyMap properties_;
    double starttime_ = 0;
    double expiration_ = 0;
    std::optional<std::string> scheduling_;  // compact JSON text
};

}  // namespace flux
