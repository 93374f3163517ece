// Hostlist: an ordered list of hostnames and its RFC 29 compressed form.
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

/// An ordered list of hostnames; duplicates and order are kept.
/// Stored as runs prefix + zero-padded number + suffix, so "node[0-99999]"
/// costs one run: size(), nth(), find() and encode() are O(runs).
/// Numeric parts are at most UINT32_MAX. Value type, not thread-safe.
class Hostlist {
public:
    /// Forward iterator yielding each hostname (by value) in list order.
    class Iterator {
    public:
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::input_iterator_tag;
        using value_type = std::string;
        using difference_type = std::ptrdiff_t;
        using reference = std::string;

        Iterator() = default;
        std::string operator*() const;
        Iterator& operator++();
        Iterator operator++(int)
        {
            Iterator old = *this;
            ++*this;
            return old;
        }
        bool operator==(const Iterator&) const = default;

    private:
        friend class Hostlist;
        Iterator(const Hostlist* hl, std::size_t run) : hl_(hl), run_(run) {}

        const Hostlist* hl_ = nullptr;
        std::size_t run_ = 0;
        std::uint64_t offset_ = 0;
    };

    Hostlist() = default;

    /// Decode an RFC 29 hostlist: comma-separated expressions
    /// prefix[idlist]suffix, each part optional, at most one bracketed
    /// idlist per expression; an empty expression is an empty list.
    /// Prefix/suffix: printable non-space ASCII other than '[', ']', ','.
    /// idlist: comma-separated N or N-M (N <= M), kept in the given order,
    /// repeats allowed; leading zeros of the first element set the
    /// zero-padded width of every id ("[00-2]" is 00,01,02).
    /// Errors: EINVAL with a message quoting the input.
    static Result<Hostlist> parse(std::string_view s);

    /// Compressed form: consecutive hosts sharing prefix, suffix and
    /// padding are bracketed together, order is preserved, e.g.
    /// "foo[1-3,5],bar". parse(encode()) yields the same list; "" if empty.
    std::string encode() const;

    /// Every hostname in order. Proportional to size(): not for huge lists.
    std::vector<std::string> expand() const;

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    /// The hostname at zero-based index i, or nullopt if i >= size().
    std::optional<std::string> nth(std::size_t i) const;

    /// Index of the first occurrence of host, or nullopt. O(runs).
    std::optional<std::size_t> find(std::string_view host) const;
    bool contains(std::string_view host) const { return find(host).has_value(); }

    /// Append the hosts of an RFC 29 string (a single hostname is one).
    /// Errors: as parse(); on error the list is unchanged.
    Result<void> append(std::string_view hosts);

    /// Append every host of another list.
    void append(const Hostlist& other);

    /// Sort hosts in natural order (text compared as text, digit runs as
    /// numbers: node2 < node10). Stable. Cost proportional to size().
    void sort();

    /// Sort, then drop duplicate hostnames. Cost proportional to size().
    void uniq();

    void clear();

    Iterator begin() const { return Iterator(this, 0); }
    Iterator end() const { return Iterator(this, runs_.size()); }

    /// Equal iff the same hostnames in the same order, however they were
    /// written ("foo[1-2]" == "foo1,foo2").
    bool operator==(const Hostlist& other) const;

private:
    // Hosts prefix + fmt(v, width) + suffix for v in [lo, hi], in order.
    // A host without a numeric part is stored whole in prefix with
    // numeric == false. width is 0 or larger than the digits of lo.
    struct Run {
        std::string prefix;
        std::string suffix;
        std::uint64_t lo = 0;
        std::uint64_t hi = 0;
        std::size_t width = 0;
        bool numeric = false;

        std::uint64_t count() const { return hi - lo + 1; }
        std::string host(std::uint64_t offset) const;
        bool operator==(const Run&) const = default;
    };

    void push_run(Run run);
    void push_host(std::string_view host);
    Result<void> append_expression(std::string_view expr, std::string_view input);
    void rebuild(const std::vector<std::string>& hosts);

    std::vector<Run> runs_;
    std::size_t size_ = 0;
};

}  // namespace flux
