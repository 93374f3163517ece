// IdSet: a set of non-negative integer ids and its RFC 22 string form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flux/error.hpp"

namespace flux {

/// A set of unsigned ids kept as sorted, disjoint, non-adjacent closed
/// ranges, so "0-4294967294" costs one range and set operations are
/// linear in the number of ranges, not the number of ids.
/// UINT32_MAX is reserved (RFC 22 users treat it as "no id"): it can never
/// be a member. Value type: copyable, comparable, not thread-safe.
class IdSet {
public:
    /// The largest id a set may hold.
    static constexpr std::uint32_t max_id = UINT32_MAX - 1;

    /// A closed range of ids, lo <= hi.
    struct Range {
        std::uint32_t lo = 0;
        std::uint32_t hi = 0;
        bool operator==(const Range&) const = default;
    };

    /// Forward iterator over the members in ascending order.
    class Iterator {
    public:
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::input_iterator_tag;
        using value_type = std::uint32_t;
        using difference_type = std::ptrdiff_t;
        using reference = std::uint32_t;

        Iterator() = default;
        std::uint32_t operator*() const { return value_; }
        Iterator& operator++();
        Iterator operator++(int)
        {
            Iterator old = *this;
            ++*this;
            return old;
        }
        bool operator==(const Iterator&) const = default;

    private:
        friend class IdSet;
        Iterator(const std::vector<Range>* ranges, std::size_t index);

        const std::vector<Range>* ranges_ = nullptr;
        std::size_t index_ = 0;
        std::uint32_t value_ = 0;
    };

    IdSet() = default;

    /// Decode an RFC 22 idset string: "", "5", "1-3", "1,3,5-7", optionally
    /// wrapped in one pair of brackets ("[1-3]"). Ids are decimal without
    /// leading zeroes and at most max_id; ranges must not be reversed;
    /// whitespace and empty elements are rejected. Duplicates, overlaps and
    /// out-of-order elements are accepted and merged.
    /// Errors: EINVAL with a message quoting the input.
    static Result<IdSet> parse(std::string_view s);

    /// Ranged encoding, e.g. "0-3,5"; "" for the empty set. With brackets,
    /// a set of more than one id is wrapped: "[0-3,5]".
    std::string encode(bool brackets = false) const;

    /// Every id listed, e.g. "0,1,2,3,5". Its length is proportional to
    /// count(): do not call it on huge sets.
    std::string encode_expanded(bool brackets = false) const;

    /// Add one id. Errors: EINVAL if id > max_id (the set is unchanged).
    Result<void> insert(std::uint32_t id);

    /// Add every id in [lo, hi]. Errors: EINVAL if lo > hi or hi > max_id.
    Result<void> insert_range(std::uint32_t lo, std::uint32_t hi);

    /// Remove one id; removing a non-member is a no-op.
    void erase(std::uint32_t id);

    /// Remove every id in [lo, hi]. Errors: EINVAL if lo > hi.
    Result<void> erase_range(std::uint32_t lo, std::uint32_t hi);

    void clear() { ranges_.clear(); }

    bool contains(std::uint32_t id) const;

    /// Number of members, up to max_id + 1 (hence 64 bits). O(ranges).
    std::uint64_t count() const;

    bool empty() const { return ranges_.empty(); }

    /// Smallest / largest member, or nullopt when empty.
    std::optional<std::uint32_t> first() const;
    std::optional<std::uint32_t> last() const;

    /// The smallest member strictly greater than id, or nullopt.
    std::optional<std::uint32_t> next(std::uint32_t id) const;

    /// The member at zero-based position n in ascending order, or nullopt
    /// if n >= count(). O(ranges).
    std::optional<std::uint32_t> nth(std::uint64_t n) const;

    /// The canonical ranges: sorted, disjoint, never adjacent.
    const std::vector<Range>& ranges() const { return ranges_; }

    Iterator begin() const { return Iterator(&ranges_, 0); }
    Iterator end() const { return Iterator(&ranges_, ranges_.size()); }

    /// Equal iff same members (the representation is canonical).
    bool operator==(const IdSet&) const = default;

    IdSet& operator|=(const IdSet& other);
    IdSet& operator-=(const IdSet& other);
    IdSet& operator&=(const IdSet& other);

private:
    std::vector<Range> ranges_;
};

/// Set algebra, each O(a.ranges() + b.ranges()).
IdSet set_union(const IdSet& a, const IdSet& b);
IdSet set_difference(const IdSet& a, const IdSet& b);
IdSet set_intersection(const IdSet& a, const IdSet& b);

inline IdSet operator|(const IdSet& a, const IdSet& b) { return set_union(a, b); }
inline IdSet operator-(const IdSet& a, const IdSet& b) { return set_difference(a, b); }
inline IdSet operator&(const IdSet& a, const IdSet& b) { return set_intersection(a, b); }

}  // namespace flux
