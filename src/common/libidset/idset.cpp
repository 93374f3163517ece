// IdSet implementation: RFC 22 codec and range-list set algebra.
#include "flux/idset.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>

namespace flux {

namespace {

using Range = IdSet::Range;

// Quote input for an error message: cut long input so one bad message
// cannot flood a log, and escape unprintable bytes.
std::string quote(std::string_view s)
{
    constexpr std::size_t limit = 64;
    static const char hex[] = "0123456789abcdef";
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < limit; i++) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        }
        else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    out += s.size() > limit ? "...'" : "'";
    return out;
}

std::unexpected<Error> parse_error(std::string_view input, const std::string& why)
{
    return fail(EINVAL, "invalid idset " + quote(input) + ": " + why);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_number(std::string& out, std::uint32_t v)
{
    char buf[16];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    assert(ec == std::errc());
    out.append(buf, end);
}

// Parse one decimal id at the front of `s`, consuming it.
// Returns an error reason (empty on success).
std::string take_id(std::string_view& s, std::uint32_t& out)
{
    std::size_t n = 0;
    while (n < s.size() && is_digit(s[n]))
        n++;
    if (n == 0) {
        if (s.empty())
            return "expected an id at end of element";
        return "expected an id at '" + std::string(s.substr(0, 1)) + "'";
    }
    std::string_view digits = s.substr(0, n);
    if (n > 1 && digits[0] == '0')
        return "id " + quote(digits) + " has a leading zero";
    std::uint64_t v = 0;
    for (char c : digits) {
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (v > IdSet::max_id)
            return "id " + quote(digits) + " exceeds "
                   + std::to_string(IdSet::max_id);
    }
    out = static_cast<std::uint32_t>(v);
    s.remove_prefix(n);
    return {};
}

// Sort and coalesce overlapping or adjacent ranges in place.
void normalize(std::vector<Range>& v)
{
    if (v.empty())
        return;
    std::sort(v.begin(), v.end(), [](const Range& a, const Range& b) {
        return a.lo < b.lo;
    });
    std::size_t out = 0;
    for (std::size_t i = 1; i < v.size(); i++) {
        if (static_cast<std::uint64_t>(v[out].hi) + 1 >= v[i].lo)
            v[out].hi = std::max(v[out].hi, v[i].hi);
        else
            v[++out] = v[i];
    }
    v.resize(out + 1);
}

// First range that ends at or after `id` (ranges are sorted by hi too).
std::vector<Range>::const_iterator first_ending_at_or_after(
    const std::vector<Range>& v, std::uint64_t id)
{
    return std::lower_bound(v.begin(), v.end(), id,
                            [](const Range& r, std::uint64_t x) { return r.hi < x; });
}

// First range that starts strictly after `id`.
std::vector<Range>::const_iterator first_starting_after(
    const std::vector<Range>& v, std::uint64_t id)
{
    return std::upper_bound(v.begin(), v.end(), id,
                            [](std::uint64_t x, const Range& r) { return x < r.lo; });
}

}  // namespace

IdSet::Iterator::Iterator(const std::vector<Range>* ranges, std::size_t index)
    : ranges_(ranges), index_(index)
{
    if (index_ < ranges_->size())
        value_ = (*ranges_)[index_].lo;
}

IdSet::Iterator& IdSet::Iterator::operator++()
{
    assert(ranges_ && index_ < ranges_->size());
    if (value_ == (*ranges_)[index_].hi) {
        index_++;
        value_ = index_ < ranges_->size() ? (*ranges_)[index_].lo : 0;
    }
    else {
        value_++;
    }
    return *this;
}

Result<IdSet> IdSet::parse(std::string_view input)
{
    std::string_view s = input;
    if (!s.empty() && s.front() == '[') {
        if (s.size() < 2 || s.back() != ']')
            return parse_error(input, "missing closing ']'");
        s = s.substr(1, s.size() - 2);
    }
    else if (!s.empty() && s.back() == ']') {
        return parse_error(input, "missing opening '['");
    }
    IdSet set;
    if (s.empty())
        return set;
    std::vector<Range> ranges;
    while (true) {
        std::size_t comma = s.find(',');
        std::string_view elem = s.substr(0, comma);
        if (elem.empty())
            return parse_error(input, "empty element");
        Range r;
        std::string why = take_id(elem, r.lo);
        if (why.empty()) {
            r.hi = r.lo;
            if (!elem.empty() && elem.front() == '-') {
                elem.remove_prefix(1);
                why = take_id(elem, r.hi);
                if (why.empty() && r.hi < r.lo)
                    why = "range '" + std::to_string(r.lo) + "-"
                          + std::to_string(r.hi) + "' is reversed";
            }
            if (why.empty() && !elem.empty())
                why = "unexpected '" + std::string(elem.substr(0, 1)) + "'";
        }
        if (!why.empty())
            return parse_error(input, why);
        ranges.push_back(r);
        if (comma == std::string_view::npos)
            break;
        s.remove_prefix(comma + 1);
    }
    normalize(ranges);
    set.ranges_ = std::move(ranges);
    return set;
}

std::string IdSet::encode(bool brackets) const
{
    std::string out;
    bool wrap = brackets && count() > 1;
    if (wrap)
        out += '[';
    for (std::size_t i = 0; i < ranges_.size(); i++) {
        if (i > 0)
            out += ',';
        append_number(out, ranges_[i].lo);
        if (ranges_[i].hi != ranges_[i].lo) {
            out += '-';
            append_number(out, ranges_[i].hi);
        }
    }
    if (wrap)
        out += ']';
    return out;
}

std::string IdSet::encode_expanded(bool brackets) const
{
    std::string out;
    bool wrap = brackets && count() > 1;
    if (wrap)
        out += '[';
    bool first_id = true;
    for (std::uint32_t id : *this) {
        if (!first_id)
            out += ',';
        first_id = false;
        append_number(out, id);
    }
    if (wrap)
        out += ']';
    return out;
}

Result<void> IdSet::insert(std::uint32_t id)
{
    return insert_range(id, id);
}

Result<void> IdSet::insert_range(std::uint32_t lo, std::uint32_t hi)
{
    if (lo > hi)
        return fail(EINVAL, "invalid id range " + std::to_string(lo) + "-"
                                + std::to_string(hi) + ": reversed");
    if (hi > max_id)
        return fail(EINVAL, "id " + std::to_string(hi) + " exceeds "
                                + std::to_string(max_id));
    // Ranges that overlap or touch [lo, hi] are [first, last).
    auto first = first_ending_at_or_after(ranges_, lo == 0 ? 0 : lo - 1);
    auto last = first_starting_after(ranges_, static_cast<std::uint64_t>(hi) + 1);
    std::size_t i = static_cast<std::size_t>(first - ranges_.cbegin());
    if (first == last) {
        ranges_.insert(first, Range{lo, hi});
        return {};
    }
    Range merged{std::min(lo, first->lo), std::max(hi, std::prev(last)->hi)};
    ranges_.erase(std::next(first), last);
    ranges_[i] = merged;
    return {};
}

void IdSet::erase(std::uint32_t id)
{
    (void)erase_range(id, id);
}

Result<void> IdSet::erase_range(std::uint32_t lo, std::uint32_t hi)
{
    if (lo > hi)
        return fail(EINVAL, "invalid id range " + std::to_string(lo) + "-"
                                + std::to_string(hi) + ": reversed");
    // Ranges that overlap [lo, hi] are [first, last).
    auto first = first_ending_at_or_after(ranges_, lo);
    auto last = first_starting_after(ranges_, hi);
    if (first >= last)
        return {};
    std::vector<Range> keep;
    if (first->lo < lo)
        keep.push_back(Range{first->lo, lo - 1});
    if (std::prev(last)->hi > hi)
        keep.push_back(Range{hi + 1, std::prev(last)->hi});
    auto pos = ranges_.erase(first, last);
    ranges_.insert(pos, keep.begin(), keep.end());
    return {};
}

bool IdSet::contains(std::uint32_t id) const
{
    auto it = first_ending_at_or_after(ranges_, id);
    return it != ranges_.end() && it->lo <= id;
}

std::uint64_t IdSet::count() const
{
    std::uint64_t n = 0;
    for (const Range& r : ranges_)
        n += static_cast<std::uint64_t>(r.hi) - r.lo + 1;
    return n;
}

std::optional<std::uint32_t> IdSet::first() const
{
    if (ranges_.empty())
        return std::nullopt;
    return ranges_.front().lo;
}

std::optional<std::uint32_t> IdSet::last() const
{
    if (ranges_.empty())
        return std::nullopt;
    return ranges_.back().hi;
}

std::optional<std::uint32_t> IdSet::next(std::uint32_t id) const
{
    auto it = first_ending_at_or_after(ranges_, static_cast<std::uint64_t>(id) + 1);
    if (it == ranges_.end())
        return std::nullopt;
    return it->lo > id ? it->lo : id + 1;
}

std::optional<std::uint32_t> IdSet::nth(std::uint64_t n) const
{
    for (const Range& r : ranges_) {
        std::uint64_t size = static_cast<std::uint64_t>(r.hi) - r.lo + 1;
        if (n < size)
            return static_cast<std::uint32_t>(r.lo + n);
        n -= size;
    }
    return std::nullopt;
}

IdSet& IdSet::operator|=(const IdSet& other)
{
    std::vector<Range> out;
    out.reserve(ranges_.size() + other.ranges_.size());
    std::merge(ranges_.begin(), ranges_.end(), other.ranges_.begin(),
               other.ranges_.end(), std::back_inserter(out),
               [](const Range& a, const Range& b) { return a.lo < b.lo; });
    normalize(out);  // already sorted: only the coalescing pass does work
    ranges_ = std::move(out);
    return *this;
}

IdSet& IdSet::operator-=(const IdSet& other)
{
    std::vector<Range> out;
    auto b = other.ranges_.begin();
    const auto b_end = other.ranges_.end();
    for (Range a : ranges_) {
        // Skip subtrahend ranges entirely below a.
        while (b != b_end && b->hi < a.lo)
            ++b;
        bool alive = true;
        for (auto it = b; it != b_end && it->lo <= a.hi; ++it) {
            if (it->lo > a.lo)
                out.push_back(Range{a.lo, it->lo - 1});
            if (it->hi >= a.hi) {
                alive = false;
                break;
            }
            a.lo = it->hi + 1;
        }
        if (alive)
            out.push_back(a);
    }
    ranges_ = std::move(out);
    return *this;
}

IdSet& IdSet::operator&=(const IdSet& other)
{
    std::vector<Range> out;
    auto a = ranges_.begin();
    auto b = other.ranges_.begin();
    while (a != ranges_.end() && b != other.ranges_.end()) {
        std::uint32_t lo = std::max(a->lo, b->lo);
        std::uint32_t hi = std::min(a->hi, b->hi);
        if (lo <= hi)
            out.push_back(Range{lo, hi});
        if (a->hi < b->hi)
            ++a;
        else
            ++b;
    }
    ranges_ = std::move(out);
    return *this;
}

IdSet set_union(const IdSet& a, const IdSet& b)
{
    IdSet r = a;
    r |= b;
    return r;
}

IdSet set_difference(const IdSet& a, const IdSet& b)
{
    IdSet r = a;
    r -= b;
    return r;
}

IdSet set_intersection(const IdSet& a, const IdSet& b)
{
    IdSet r = a;
    r &= b;
    return r;
}

}  // namespace flux
