// Python-style output templates (format.hpp), following flux-core's
// flux.util OutputFormat/UtilFormatter.
#include "format.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace flux::cmd {

// --- UTF-8: Python counts code points ---

size_t cp_count(const std::string& s)
{
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80)
            n++;
    return n;
}

// Byte offset of code point `n` (or s.size()).
size_t cp_offset(const std::string& s, size_t n)
{
    size_t i = 0;
    while (i < s.size() && n > 0) {
        i++;
        while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80)
            i++;
        n--;
    }
    return i;
}

namespace {

// A Python format spec taken apart (flux.util.OutputFormat.FormatSpec).
struct Spec {
    std::string fill, align, sign, z, alt, zero, width, grouping, precision, type;
    bool hyphen = false, wide = false, truncate = false;
    bool valid = true;

    static Spec parse(std::string s)
    {
        Spec p;
        size_t i = 0;
        auto is_align = [](char c) { return c == '<' || c == '>' || c == '=' || c == '^'; };
        // [[fill]align]: the fill may be any (UTF-8) character
        size_t first_len = s.empty() ? 0 : cp_offset(s, 1);
        if (first_len < s.size() && is_align(s[first_len])) {
            p.fill = s.substr(0, first_len);
            p.align = s[first_len];
            i = first_len + 1;
        } else if (!s.empty() && is_align(s[0])) {
            p.align = s[0];
            i = 1;
        }
        auto take = [&](const char* set, std::string& out) {
            if (i < s.size() && std::string_view(set).find(s[i]) != std::string_view::npos)
                out = s[i++];
        };
        take("- +", p.sign);
        take("z", p.z);
        take("#", p.alt);
        take("0", p.zero);
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
            p.width += s[i++];
        take("_,", p.grouping);
        if (i < s.size() && s[i] == '.') {
            size_t j = i + 1;
            std::string prec;
            while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])))
                prec += s[j++];
            if (!prec.empty()) {
                p.precision = prec;
                i = j;
            }
        }
        take("bcdeEfFgGnosxX%", p.type);
        if (i < s.size() && s[i] == 'h')
            p.hyphen = true, i++;
        if (i < s.size() && s[i] == 'W')
            p.wide = true, i++;
        if (i < s.size() && s[i] == '+')
            p.truncate = true, i++;
        if (i != s.size()) {
            p = Spec();
            p.valid = false;
        }
        return p;
    }

    std::string str() const
    {
        std::string s = fill + align + sign + z + alt + zero + width + grouping;
        if (!precision.empty())
            s += "." + precision;
        s += type;
        if (hyphen)
            s += 'h';
        if (wide)
            s += 'W';
        if (truncate)
            s += '+';
        return s;
    }
};

std::string local_time(double ts, const std::string& fmt_s)
{
    time_t t = static_cast<time_t>(ts);
    struct tm tm;
    localtime_r(&t, &tm);
    char buf[256];
    size_t n = strftime(buf, sizeof(buf), fmt_s.c_str(), &tm);
    return std::string(buf, n);
}

bool is_number(const FieldValue& v)
{
    return !std::holds_alternative<std::string>(v);
}

double as_double(const FieldValue& v)
{
    if (auto i = std::get_if<long long>(&v))
        return static_cast<double>(*i);
    if (auto d = std::get_if<double>(&v))
        return *d;
    return 0;
}

// flux.util.empty_outputs(): what 'h' and the sentinels count as empty.
bool empty_output(const std::string& s)
{
    static const std::string epoch = local_time(0, "%FT%T");
    return s.empty() || s == "0s" || s == "0.0" || s == "0:00:00" || s == "1970-01-01T00:00:00" || s == epoch;
}

// A string cut to `precision` and padded to `width`, both counted in code
// points as Python does (fmt would count display columns).
std::string pad(std::string text, const std::string& fill, const std::string& align, const std::string& width,
                const std::string& precision)
{
    if (!precision.empty()) {
        size_t p = std::stoul(precision);
        text = text.substr(0, cp_offset(text, p));
    }
    size_t w = width.empty() ? 0 : std::stoul(width);
    size_t n = cp_count(text);
    if (n >= w)
        return text;
    std::string f = fill.empty() ? " " : fill;
    size_t padn = w - n, left = 0;
    if (align == ">")
        left = padn;
    else if (align == "^")
        left = padn / 2;
    std::string out;
    for (size_t i = 0; i < left; i++)
        out += f;
    out += text;
    for (size_t i = left; i < padn; i++)
        out += f;
    return out;
}

// Python's format(value, spec) for a spec without Flux extensions.
std::string py_format(const FieldValue& v, const Spec& sp)
{
    try {
        if (auto s = std::get_if<std::string>(&v)) {
            if ((!sp.type.empty() && sp.type != "s") || !sp.sign.empty() || !sp.alt.empty() || !sp.zero.empty() ||
                !sp.grouping.empty() || sp.align == "=")
                throw fmt::format_error("numeric format on a string");
            return pad(*s, sp.fill, sp.align, sp.width, sp.precision);
        }
        if (auto i = std::get_if<long long>(&v)) {
            if (sp.type.empty() || std::string_view("bcdoxXn").find(sp.type) != std::string_view::npos) {
                Spec s2 = sp;
                if (s2.type == "n")
                    s2.type = "d";
                return fmt::vformat("{:" + s2.str() + "}", fmt::make_format_args(*i));
            }
            double d = static_cast<double>(*i);
            return py_format(FieldValue(d), sp);
        }
        double d = std::get<double>(v);
        if (sp.type.empty() && sp.precision.empty()) {
            // Python prints repr() here, right-aligned like any number.
            return pad(py_str(v), sp.fill, sp.align.empty() ? ">" : sp.align, sp.width, "");
        }
        Spec s2 = sp;
        if (s2.type.empty())
            s2.type = "g";
        if (s2.type == "%") {
            s2.type = "f";
            return fmt::vformat("{:" + s2.str() + "}", fmt::make_format_args(d * 100)) + "%";
        }
        return fmt::vformat("{:" + s2.str() + "}", fmt::make_format_args(d));
    } catch (const std::exception&) {
        // Python would raise; keep the alignment and width at least.
        return pad(py_str(v), sp.fill, sp.align == "=" ? ">" : sp.align, sp.width, "");
    }
}

// The value after a conversion (!D, !F, !H, !P; !d is done in format_piece).
FieldValue convert(const std::string& conv, const FieldValue& v)
{
    if (conv.empty())
        return v;
    if (!is_number(v))
        return std::string();  // Python: "" stays "" (other strings raise)
    double x = as_double(v);
    if (conv == "D")
        return x == 0 ? std::string() : local_time(x, "%FT%T");
    if (conv == "F")
        return fsd(x);
    if (conv == "H")
        return hms(x);
    if (conv == "P") {
        x *= 100;
        char buf[64];
        if (x > 0 && x < 1)
            snprintf(buf, sizeof(buf), "%.2f%%", x);
        else
            snprintf(buf, sizeof(buf), "%.3g%%", x);
        return std::string(buf);
    }
    return v;
}

// UtilDatetime.__format__: "STRFTIME::SPEC".
std::string format_datetime(const FieldValue& v, const std::string& spec_text)
{
    size_t dc = spec_text.find("::");
    std::string timefmt = dc == std::string::npos ? spec_text : spec_text.substr(0, dc);
    std::string spec = dc == std::string::npos ? "" : spec_text.substr(dc + 2);
    double ts = is_number(v) ? as_double(v) : 0;
    std::string result = ts == 0 ? std::string() : local_time(ts, timefmt.empty() ? "%FT%T" : timefmt);
    if (!spec.empty() && spec.back() == 'h') {
        if (result.empty())
            result = "-";
        spec.back() = 's';
    }
    if (spec.empty())
        return result;
    return py_format(result, Spec::parse(spec));
}

}  // namespace

std::string py_str(const FieldValue& v)
{
    if (auto s = std::get_if<std::string>(&v))
        return *s;
    if (auto i = std::get_if<long long>(&v))
        return fmt::format("{}", *i);
    double d = std::get<double>(v);
    std::string s = fmt::format("{}", d);
    if (std::isfinite(d) && s.find_first_of(".eE") == std::string::npos)
        s += ".0";
    return s;
}

std::string fsd(double secs)
{
    if (std::isinf(secs))
        return "inf";
    char buf[64];
    if (secs < 1.0e-3)
        return "0s";
    if (secs < 10.0)
        snprintf(buf, sizeof(buf), "%.03fs", secs);
    else if (secs < 60.0)
        snprintf(buf, sizeof(buf), "%.4gs", secs);
    else if (secs < 60.0 * 60.0)
        snprintf(buf, sizeof(buf), "%.4gm", secs / 60.0);
    else if (secs < 60.0 * 60.0 * 24.0)
        snprintf(buf, sizeof(buf), "%.4gh", secs / (60.0 * 60.0));
    else
        snprintf(buf, sizeof(buf), "%.4gd", secs / (60.0 * 60.0 * 24.0));
    return buf;
}

std::string hms(double secs)
{
    if (secs > 0 && secs < 1)
        secs = 1;
    if (!std::isfinite(secs) || secs < 0)
        secs = 0;
    long long total = static_cast<long long>(std::nearbyint(secs));  // round half to even, as Python
    long long days = total / 86400, rest = total % 86400;
    std::string out;
    if (days)
        out = fmt::format("{} day{}, ", days, days == 1 ? "" : "s");
    return out + fmt::format("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
}

Result<OutputFormat> OutputFormat::parse(const std::string& f, const std::map<std::string, std::string>& fields)
{
    return parse(f, [fields](const std::string& name) -> std::optional<std::string> {
        auto it = fields.find(name);
        if (it == fields.end())
            return std::nullopt;
        return it->second;
    });
}

Result<OutputFormat> OutputFormat::parse(const std::string& f, Headings headings)
{
    OutputFormat out;
    out.headings_ = headings;
    std::string lit;
    size_t i = 0;
    auto add_piece = [&](Piece p) {
        for (const char* s : {"?+:", "?:", "+:"}) {
            if (p.literal.ends_with(s)) {
                p.sentinel = s;
                p.literal.erase(p.literal.size() - std::string_view(s).size());
                break;
            }
        }
        out.pieces_.push_back(std::move(p));
    };
    while (i < f.size()) {
        char c = f[i];
        if ((c == '{' || c == '}') && i + 1 < f.size() && f[i + 1] == c) {
            lit += c;
            i += 2;
            continue;
        }
        if (c == '}')
            return fail(EINVAL, fmt::format("format '{}': single '}}' encountered", f));
        if (c != '{') {
            lit += c;
            i++;
            continue;
        }
        size_t close = f.find('}', i);
        if (close == std::string::npos)
            return fail(EINVAL, fmt::format("format '{}': unterminated '{{'", f));
        std::string body = f.substr(i + 1, close - i - 1);
        Piece p;
        p.literal = std::move(lit);
        lit.clear();
        size_t colon = body.find(':');
        std::string name = body.substr(0, colon);
        p.spec = colon == std::string::npos ? "" : body.substr(colon + 1);
        if (size_t bang = name.find('!'); bang != std::string::npos) {
            p.conv = name.substr(bang + 1);
            name = name.substr(0, bang);
            static const std::string convs[] = {"d", "D", "F", "H", "P"};
            if (std::find(std::begin(convs), std::end(convs), p.conv) == std::end(convs))
                return fail(EINVAL, fmt::format("format '{}': unknown conversion '!{}'", f, p.conv));
        }
        auto heading = headings(name);
        if (!heading)
            return fail(EINVAL, fmt::format("Unknown format field: {}", name));
        p.field = name;
        p.heading = *heading;
        add_piece(std::move(p));
        i = close + 1;
    }
    if (!lit.empty()) {
        Piece p;
        p.literal = std::move(lit);
        out.pieces_.push_back(std::move(p));
    }
    // "sort:KEYS " prefix: the whole leading text (flux.util.OutputFormat)
    if (!out.pieces_.empty() && out.pieces_[0].literal.starts_with("sort:")) {
        std::string keys = out.pieces_[0].literal.substr(5);
        out.pieces_[0].literal.clear();
        if (auto r = out.set_sort_keys(keys); !r)
            return std::unexpected(r.error());
    }
    return out;
}

Result<void> OutputFormat::set_sort_keys(const std::string& keys)
{
    std::vector<std::pair<std::string, bool>> v;
    size_t start = 0;
    while (start <= keys.size()) {
        size_t comma = keys.find(',', start);
        std::string k = keys.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        k.erase(0, k.find_first_not_of(" \t"));
        k.erase(k.find_last_not_of(" \t") + 1);
        bool reverse = false;
        if (k.starts_with("-")) {
            reverse = true;
            k.erase(0, 1);
        }
        if (!headings_ || !headings_(k))
            return fail(EINVAL, fmt::format("Invalid sort key: {}", k));
        v.emplace_back(k, reverse);
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    sort_keys_ = std::move(v);
    return {};
}

void OutputFormat::sort(std::vector<Row>& rows) const
{
    auto value = [](const Row& r, const std::string& k) {
        auto it = r.find(k);
        return it == r.end() ? FieldValue(std::string()) : it->second;
    };
    // As Python: one stable sort per key, last key first.
    for (auto k = sort_keys_.rbegin(); k != sort_keys_.rend(); ++k) {
        const std::string& key = k->first;
        bool reverse = k->second;
        std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
            FieldValue x = value(a, key), y = value(b, key);
            if (reverse)
                std::swap(x, y);
            bool nx = is_number(x), ny = is_number(y);
            if (nx && ny)
                return as_double(x) < as_double(y);
            if (nx != ny)
                return nx;  // numbers before strings
            return std::get<std::string>(x) < std::get<std::string>(y);
        });
    }
}

std::string OutputFormat::header() const
{
    std::string out;
    for (const auto& p : pieces_) {
        out += p.literal;
        if (p.field.empty())
            continue;
        std::string spec_text = p.spec;
        if (size_t dc = spec_text.find("::"); dc != std::string::npos)
            spec_text = spec_text.substr(dc + 2);
        Spec s = Spec::parse(spec_text);
        out += pad(p.heading, "", s.align == "=" ? ">" : s.align, s.width, "");
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

// UtilFormatter.convert_field() then format_field().
std::string OutputFormat::format_piece(const Piece& p, const FieldValue& value) const
{
    if (p.conv == "d")
        return format_datetime(value, p.spec);
    FieldValue v = convert(p.conv, value);
    Spec s = Spec::parse(p.spec);
    if (!s.valid)
        return py_str(v);
    bool truncate = s.truncate;
    s.truncate = false;
    if (s.hyphen) {
        std::string text = py_str(v);
        v = empty_output(text) ? std::string("-") : text;
        s.hyphen = false;
        s.type = "s";
    }
    if (s.wide) {
        s.wide = false;
        s.type = "s";
    }
    std::string out = py_format(v, s);
    if (truncate) {
        std::string full = py_str(v);
        size_t n = cp_count(out);
        if (n < cp_count(full) && n > 0)
            out = out.substr(0, cp_offset(out, n - 1)) + "+";
    }
    return out;
}

std::string OutputFormat::format(const Row& row, bool trim) const
{
    std::string out;
    for (const auto& p : pieces_) {
        out += p.literal;
        if (p.field.empty())
            continue;
        auto it = row.find(p.field);
        out += format_piece(p, it == row.end() ? FieldValue(std::string()) : it->second);
    }
    while (trim && !out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

OutputFormat OutputFormat::filter(const std::vector<Row>& rows, bool no_header) const
{
    OutputFormat out = *this;
    std::vector<Piece> kept;
    for (const auto& p : pieces_) {
        if (p.sentinel.empty() || p.field.empty()) {
            kept.push_back(p);
            continue;
        }
        bool drop_empty = p.sentinel != "+:";
        bool expand = p.sentinel != "?:";
        std::string spec_text = p.spec, time_prefix;
        if (size_t dc = spec_text.find("::"); dc != std::string::npos) {
            time_prefix = spec_text.substr(0, dc + 2);
            spec_text = spec_text.substr(dc + 2);
        }
        Spec s = Spec::parse(spec_text);
        size_t maxwidth = s.width.empty() ? 0 : std::stoul(s.width);
        if (expand && !no_header)
            maxwidth = std::max(maxwidth, cp_count(p.heading));
        size_t width = 0;
        Piece bare = p;  // as Python's "{0.FIELD!CONV}": no spec (dates in ISO form)
        bare.spec.clear();
        for (const auto& row : rows) {
            auto it = row.find(p.field);
            std::string text = format_piece(bare, it == row.end() ? FieldValue(std::string()) : it->second);
            size_t w = empty_output(text) ? 0 : cp_count(text);
            width = std::max(width, w);
            maxwidth = std::max(maxwidth, w);
        }
        if (width == 0 && drop_empty)
            continue;  // the column and the text before it go
        Piece q = p;
        q.sentinel.clear();
        if (expand && s.valid) {
            s.width = std::to_string(maxwidth);
            if ((s.type.empty() || s.type == "s") && !s.precision.empty() && std::stoul(s.precision) < maxwidth)
                s.precision = s.width;
            q.spec = time_prefix + s.str();
        }
        kept.push_back(std::move(q));
    }
    out.pieces_ = std::move(kept);
    return out;
}

std::vector<std::string> OutputFormat::fields() const
{
    std::vector<std::string> v;
    for (const auto& p : pieces_)
        if (!p.field.empty())
            v.push_back(p.field);
    return v;
}

}  // namespace flux::cmd
