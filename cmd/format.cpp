// Python-style output templates.
#include "format.hpp"

#include <time.h>

#include <fmt/format.h>

namespace flux::cmd {

Result<OutputFormat> OutputFormat::parse(const std::string& f, const std::map<std::string, std::string>& fields)
{
    OutputFormat out;
    std::string lit;
    size_t i = 0;
    while (i < f.size()) {
        char c = f[i];
        if (c == '{' && i + 1 < f.size() && f[i + 1] == '{') {
            lit += '{';
            i += 2;
            continue;
        }
        if (c == '}' && i + 1 < f.size() && f[i + 1] == '}') {
            lit += '}';
            i += 2;
            continue;
        }
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
        std::string spec = colon == std::string::npos ? "" : body.substr(colon + 1);
        size_t bang = name.find('!');
        if (bang != std::string::npos) {
            p.conv = name.substr(bang + 1);
            name = name.substr(0, bang);
            if (p.conv != "d")
                return fail(EINVAL, fmt::format("format '{}': unknown conversion '!{}'", f, p.conv));
            size_t dc = spec.find("::");
            p.strftime_fmt = dc == std::string::npos ? spec : spec.substr(0, dc);
            spec = dc == std::string::npos ? "" : spec.substr(dc + 2);
            if (p.strftime_fmt.empty())
                p.strftime_fmt = "%FT%T";
        }
        auto it = fields.find(name);
        if (it == fields.end())
            return fail(EINVAL, fmt::format("format '{}': unknown field '{}'", f, name));
        if (!spec.empty() && spec.back() == 'h') {
            p.dash_if_empty = true;
            spec.pop_back();
        }
        p.field = name;
        p.heading = it->second;
        p.spec = spec;
        try {  // validate the spec once, on a string
            (void)fmt::vformat("{:" + p.spec + "}", fmt::make_format_args(p.heading));
        } catch (const std::exception&) {
            // numeric-only specs ("d", ".2f") are checked when used
        }
        out.pieces_.push_back(std::move(p));
        i = close + 1;
    }
    if (!lit.empty()) {
        Piece p;
        p.literal = std::move(lit);
        out.pieces_.push_back(std::move(p));
    }
    return out;
}

namespace {

// The alignment/width part of a spec, for headings: drop type letters.
std::string header_spec(const std::string& spec)
{
    std::string s = spec;
    while (!s.empty() && std::isalpha(static_cast<unsigned char>(s.back())))
        s.pop_back();
    return s;
}

std::string apply_spec(const std::string& spec, const FieldValue& v)
{
    try {
        return std::visit([&](const auto& x) { return fmt::vformat("{:" + spec + "}", fmt::make_format_args(x)); },
                          v);
    } catch (const std::exception&) {
        // A numeric spec on a string (or the reverse): fall back to alignment only.
        std::string s = std::visit([](const auto& x) { return fmt::format("{}", x); }, v);
        try {
            return fmt::vformat("{:" + header_spec(spec) + "}", fmt::make_format_args(s));
        } catch (const std::exception&) {
            return s;
        }
    }
}

bool empty_value(const FieldValue& v)
{
    if (auto s = std::get_if<std::string>(&v))
        return s->empty();
    if (auto i = std::get_if<long long>(&v))
        return *i == 0;
    return std::get<double>(v) == 0;
}

}  // namespace

std::string OutputFormat::header() const
{
    std::string out;
    for (const auto& p : pieces_) {
        out += p.literal;
        if (p.field.empty())
            continue;
        try {
            out += fmt::vformat("{:" + header_spec(p.spec) + "}", fmt::make_format_args(p.heading));
        } catch (const std::exception&) {
            out += p.heading;
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

std::string OutputFormat::format(const Row& row) const
{
    std::string out;
    for (const auto& p : pieces_) {
        out += p.literal;
        if (p.field.empty())
            continue;
        auto it = row.find(p.field);
        FieldValue v = it == row.end() ? FieldValue(std::string()) : it->second;
        if (p.conv == "d") {
            double ts = std::holds_alternative<double>(v) ? std::get<double>(v) : 0;
            std::string s;
            if (ts > 0) {
                time_t t = static_cast<time_t>(ts);
                struct tm tm;
                localtime_r(&t, &tm);
                char buf[128];
                strftime(buf, sizeof(buf), p.strftime_fmt.c_str(), &tm);
                s = buf;
            }
            v = s;
        }
        if (p.dash_if_empty && empty_value(v))
            v = std::string("-");
        out += apply_spec(p.spec, v);
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
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
