// Hostlist implementation: RFC 29 decoder, run-length storage, encoder.
#include "flux/hostlist.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>

namespace flux {

namespace {

constexpr std::uint64_t max_value = UINT32_MAX;

// Quote input for an error message: cut long input, escape unprintables.
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
    return fail(EINVAL, "invalid hostlist " + quote(input) + ": " + why);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 29: prefix and suffix are printable, non-space ASCII except [ ] ,
bool is_name_char(char c)
{
    return c > 0x20 && c < 0x7f && c != '[' && c != ']' && c != ',';
}

std::size_t digits_of(std::uint64_t v)
{
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

void append_number(std::string& out, std::uint64_t v, std::size_t width)
{
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    assert(ec == std::errc());
    std::size_t n = static_cast<std::size_t>(end - buf);
    if (width > n)
        out.append(width - n, '0');
    out.append(buf, end);
}

// Value of a non-empty all-digit string, if it is at most max_value.
std::optional<std::uint64_t> parse_value(std::string_view digits)
{
    if (digits.empty())
        return std::nullopt;
    std::uint64_t v = 0;
    for (char c : digits) {
        if (!is_digit(c))
            return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (v > max_value)
            return std::nullopt;
    }
    return v;
}

// Padding implied by how a number was written: "007" -> 3, "7" or "0" -> 0.
std::size_t width_of(std::string_view digits)
{
    return digits.size() > 1 && digits[0] == '0' ? digits.size() : 0;
}

struct Match {
    std::uint64_t value;
    std::size_t len;  // digits written, leading zeros included
};

// Is host == prefix + digits + suffix? Yields the number if so.
std::optional<Match> match(std::string_view host, std::string_view prefix,
                           std::string_view suffix)
{
    if (host.size() <= prefix.size() + suffix.size() || !host.starts_with(prefix)
        || !host.ends_with(suffix))
        return std::nullopt;
    std::string_view mid =
        host.substr(prefix.size(), host.size() - prefix.size() - suffix.size());
    auto v = parse_value(mid);
    if (!v)
        return std::nullopt;
    return Match{*v, mid.size()};
}

// Natural order: digit runs compare as numbers, other bytes as bytes;
// for numerically equal runs fewer leading zeros sorts first.
int natural_compare(std::string_view a, std::string_view b)
{
    std::size_t i = 0, j = 0;
    int tie = 0;
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            std::size_t ie = i, je = j;
            while (ie < a.size() && is_digit(a[ie]))
                ie++;
            while (je < b.size() && is_digit(b[je]))
                je++;
            std::size_t iz = i, jz = j;  // skip leading zeros
            while (iz + 1 < ie && a[iz] == '0')
                iz++;
            while (jz + 1 < je && b[jz] == '0')
                jz++;
            std::string_view na = a.substr(iz, ie - iz), nb = b.substr(jz, je - jz);
            if (na.size() != nb.size())
                return na.size() < nb.size() ? -1 : 1;
            if (int c = na.compare(nb); c != 0)
                return c < 0 ? -1 : 1;
            if (tie == 0 && ie - i != je - j)
                tie = ie - i < je - j ? -1 : 1;
            i = ie;
            j = je;
        }
        else {
            auto ca = static_cast<unsigned char>(a[i]);
            auto cb = static_cast<unsigned char>(b[j]);
            if (ca != cb)
                return ca < cb ? -1 : 1;
            i++;
            j++;
        }
    }
    if (i < a.size() || j < b.size())
        return i < a.size() ? 1 : -1;
    return tie;
}

// Take a decimal number from the front of s. Returns an error reason or "".
std::string take_number(std::string_view& s, std::string_view& digits,
                        std::uint64_t& value)
{
    std::size_t n = 0;
    while (n < s.size() && is_digit(s[n]))
        n++;
    if (n == 0)
        return s.empty() ? "expected a number at end of element"
                         : "expected a number at " + quote(s.substr(0, 1));
    digits = s.substr(0, n);
    auto v = parse_value(digits);
    if (!v)
        return "number " + quote(digits) + " exceeds " + std::to_string(max_value);
    value = *v;
    s.remove_prefix(n);
    return {};
}

}  // namespace

std::string Hostlist::Run::host(std::uint64_t offset) const
{
    if (!numeric)
        return prefix;
    std::string out = prefix;
    append_number(out, lo + offset, width);
    out += suffix;
    return out;
}

namespace {

bool same_pattern(const auto& a, const auto& b)
{
    return a.numeric && b.numeric && a.prefix == b.prefix && a.suffix == b.suffix;
}

// Can ids from lo up, padded to width, be written with padding g instead
// and still denote the same hosts? (width is 0 or exceeds digits of lo.)
bool joinable(std::size_t width, std::uint64_t lo, std::size_t g)
{
    return width == g || (width == 0 && digits_of(lo) >= g);
}

}  // namespace

std::string Hostlist::Iterator::operator*() const
{
    assert(hl_ && run_ < hl_->runs_.size());
    return hl_->runs_[run_].host(offset_);
}

Hostlist::Iterator& Hostlist::Iterator::operator++()
{
    assert(hl_ && run_ < hl_->runs_.size());
    if (++offset_ == hl_->runs_[run_].count()) {
        run_++;
        offset_ = 0;
    }
    return *this;
}

void Hostlist::push_run(Run run)
{
    assert(run.lo <= run.hi);
    size_ += run.count();
    if (!runs_.empty()) {
        Run& last = runs_.back();
        if (same_pattern(last, run) && run.lo == last.hi + 1
            && joinable(run.width, run.lo, last.width)) {
            last.hi = run.hi;
            return;
        }
    }
    runs_.push_back(std::move(run));
}

// Which digit run of a bare hostname is "the number" is ambiguous
// (foo0-eth2): prefer the reading that continues the previous run, then
// one shared with a lone previous host, else the last digit run.
void Hostlist::push_host(std::string_view host)
{
    auto width = [](Match m) { return m.len > digits_of(m.value) ? m.len : 0; };
    auto make = [&](std::string_view p, std::string_view s, Match m) {
        return Run{std::string(p), std::string(s), m.value, m.value, width(m), true};
    };
    if (!runs_.empty()) {
        Run& last = runs_.back();
        if (last.numeric) {
            if (auto m = match(host, last.prefix, last.suffix)) {
                if (m->value == last.hi + 1 && joinable(width(*m), m->value, last.width)) {
                    last.hi++;  // the common case, without building a Run
                    size_++;
                    return;
                }
                push_run(make(last.prefix, last.suffix, *m));
                return;
            }
        }
        bool grouped = runs_.size() > 1 && same_pattern(runs_[runs_.size() - 2], last);
        if (last.count() == 1 && !grouped) {
            std::string prev = last.host(0);
            std::size_t end = host.size();
            while (true) {
                std::size_t b = end;
                while (b > 0 && !is_digit(host[b - 1]))
                    b--;
                if (b == 0)
                    break;
                std::size_t a = b;
                while (a > 0 && is_digit(host[a - 1]))
                    a--;
                std::string_view p = host.substr(0, a), s = host.substr(b);
                auto mine = match(host, p, s);
                auto theirs = match(prev, p, s);
                if (mine && theirs) {
                    runs_.back() = make(p, s, *theirs);
                    push_run(make(p, s, *mine));
                    return;
                }
                end = a;
            }
        }
    }
    std::size_t b = host.size();
    while (b > 0 && !is_digit(host[b - 1]))
        b--;
    std::size_t a = b;
    while (a > 0 && is_digit(host[a - 1]))
        a--;
    if (a < b) {
        if (auto m = match(host, host.substr(0, a), host.substr(b))) {
            push_run(make(host.substr(0, a), host.substr(b), *m));
            return;
        }
    }
    push_run(Run{std::string(host), {}, 0, 0, 0, false});
}

Result<void> Hostlist::append_expression(std::string_view expr, std::string_view input)
{
    auto check_chars = [&](std::string_view part) -> Result<void> {
        for (char c : part) {
            if (c == '[')
                return parse_error(input, "more than one '[idlist]' in "
                                              + quote(expr));
            if (!is_name_char(c))
                return parse_error(input, "invalid character "
                                              + quote(std::string_view(&c, 1)));
        }
        return {};
    };
    std::size_t lb = expr.find('[');
    if (lb == std::string_view::npos) {
        if (auto r = check_chars(expr); !r)
            return r;
        if (!expr.empty())
            push_host(expr);
        return {};
    }
    std::size_t rb = expr.find(']', lb);
    assert(rb != std::string_view::npos);  // the tokenizer checked balance
    std::string_view prefix = expr.substr(0, lb);
    std::string_view suffix = expr.substr(rb + 1);
    std::string_view idlist = expr.substr(lb + 1, rb - lb - 1);
    if (auto r = check_chars(prefix); !r)
        return r;
    if (auto r = check_chars(suffix); !r)
        return r;
    if (idlist.empty())
        return parse_error(input, "empty idlist in " + quote(expr));
    std::size_t width = 0;
    bool first = true;
    while (true) {
        std::size_t comma = idlist.find(',');
        std::string_view elem = idlist.substr(0, comma);
        const std::string_view whole = elem;
        if (elem.empty())
            return parse_error(input, "empty element in idlist " + quote(idlist));
        std::string_view digits;
        std::uint64_t lo = 0, hi = 0;
        std::string why = take_number(elem, digits, lo);
        if (why.empty()) {
            if (first)
                width = width_of(digits);
            first = false;
            hi = lo;
            if (!elem.empty() && elem.front() == '-') {
                elem.remove_prefix(1);
                why = take_number(elem, digits, hi);
                if (why.empty() && hi < lo)
                    why = "range " + quote(whole) + " is reversed";
            }
            if (why.empty() && !elem.empty())
                why = "unexpected " + quote(elem.substr(0, 1)) + " in " + quote(whole);
        }
        if (!why.empty())
            return parse_error(input, why);
        std::size_t w = width > digits_of(lo) ? width : 0;
        push_run(Run{std::string(prefix), std::string(suffix), lo, hi, w, true});
        if (comma == std::string_view::npos)
            break;
        idlist.remove_prefix(comma + 1);
    }
    return {};
}

Result<Hostlist> Hostlist::parse(std::string_view s)
{
    Hostlist hl;
    std::size_t pos = 0;
    while (true) {
        // An expression ends at a comma outside brackets.
        std::size_t start = pos;
        bool open = false;
        for (; pos < s.size(); pos++) {
            char c = s[pos];
            if (c == '[') {
                if (open)
                    return parse_error(s, "nested '['");
                open = true;
            }
            else if (c == ']') {
                if (!open)
                    return parse_error(s, "unmatched ']'");
                open = false;
            }
            else if (c == ',' && !open) {
                break;
            }
        }
        if (open)
            return parse_error(s, "unterminated '['");
        if (auto r = hl.append_expression(s.substr(start, pos - start), s); !r)
            return std::unexpected(r.error());
        if (pos >= s.size())
            break;
        pos++;  // skip the comma
    }
    return hl;
}

std::string Hostlist::encode() const
{
    std::string out;
    std::size_t i = 0;
    while (i < runs_.size()) {
        if (i > 0)
            out += ',';
        const Run& r = runs_[i];
        if (!r.numeric) {
            out += r.prefix;
            i++;
            continue;
        }
        // Group following runs that share the pattern and r's padding.
        std::size_t j = i + 1;
        std::uint64_t total = r.count();
        while (j < runs_.size() && same_pattern(runs_[j], r)
               && joinable(runs_[j].width, runs_[j].lo, r.width))
            total += runs_[j++].count();
        out += r.prefix;
        if (total == 1) {
            append_number(out, r.lo, r.width);
        }
        else {
            out += '[';
            std::uint64_t lo = r.lo, hi = r.hi;
            auto emit = [&](bool comma) {
                if (comma)
                    out += ',';
                append_number(out, lo, r.width);
                if (hi != lo) {
                    out += '-';
                    append_number(out, hi, r.width);
                }
            };
            bool comma = false;
            for (std::size_t k = i + 1; k < j; k++) {
                if (runs_[k].lo == hi + 1) {
                    hi = runs_[k].hi;
                    continue;
                }
                emit(comma);
                comma = true;
                lo = runs_[k].lo;
                hi = runs_[k].hi;
            }
            emit(comma);
            out += ']';
        }
        out += r.suffix;
        i = j;
    }
    return out;
}

std::vector<std::string> Hostlist::expand() const
{
    std::vector<std::string> hosts;
    hosts.reserve(size_);
    for (std::string host : *this)
        hosts.push_back(std::move(host));
    return hosts;
}

std::optional<std::string> Hostlist::nth(std::size_t i) const
{
    std::uint64_t n = i;
    for (const Run& r : runs_) {
        if (n < r.count())
            return r.host(n);
        n -= r.count();
    }
    return std::nullopt;
}

std::optional<std::size_t> Hostlist::find(std::string_view host) const
{
    std::size_t base = 0;
    for (const Run& r : runs_) {
        if (!r.numeric) {
            if (host == r.prefix)
                return base;
        }
        else if (auto m = match(host, r.prefix, r.suffix)) {
            bool same_text = m->len == std::max(r.width, digits_of(m->value));
            if (same_text && m->value >= r.lo && m->value <= r.hi)
                return base + static_cast<std::size_t>(m->value - r.lo);
        }
        base += r.count();
    }
    return std::nullopt;
}

Result<void> Hostlist::append(std::string_view hosts)
{
    auto more = parse(hosts);
    if (!more)
        return std::unexpected(more.error());
    append(*more);
    return {};
}

void Hostlist::append(const Hostlist& other)
{
    if (&other == this) {
        Hostlist copy = other;
        append(copy);
        return;
    }
    for (const Run& r : other.runs_) {
        if (r.count() == 1)
            push_host(r.host(0));  // lets a lone host join a neighbour
        else
            push_run(r);
    }
}

void Hostlist::rebuild(const std::vector<std::string>& hosts)
{
    clear();
    for (const std::string& h : hosts)
        push_host(h);
}

void Hostlist::sort()
{
    std::vector<std::string> hosts = expand();
    std::stable_sort(hosts.begin(), hosts.end(), [](const auto& a, const auto& b) {
        return natural_compare(a, b) < 0;
    });
    rebuild(hosts);
}

void Hostlist::uniq()
{
    std::vector<std::string> hosts = expand();
    std::sort(hosts.begin(), hosts.end(), [](const auto& a, const auto& b) {
        return natural_compare(a, b) < 0;
    });
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    rebuild(hosts);
}

void Hostlist::clear()
{
    runs_.clear();
    size_ = 0;
}

bool Hostlist::operator==(const Hostlist& other) const
{
    if (size_ != other.size_)
        return false;
    if (runs_ == other.runs_)
        return true;
    return std::equal(begin(), end(), other.begin());
}

}  // namespace flux
