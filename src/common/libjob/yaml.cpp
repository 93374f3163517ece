// The YAML subset reader (see flux/yaml.hpp for what is supported).
#include "flux/yaml.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "number.hpp"

namespace flux {

using nlohmann::json;

namespace {

struct Line {
    int indent = 0;
    std::string_view text;  // after the indentation, comments not yet removed
    int no = 0;
};

// Thrown inside the parser only; parse_yaml() turns it into an Error.
struct YamlError {
    int line;
    std::string what;
};

bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

std::string_view rtrim(std::string_view s)
{
    while (!s.empty() && (is_space(s.back()) || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::string_view ltrim(std::string_view s)
{
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    return s;
}

bool is_comment_or_empty(std::string_view s)
{
    s = ltrim(rtrim(s));
    return s.empty() || s.front() == '#';
}

bool is_seq_item(std::string_view t)
{
    return t == "-" || t.starts_with("- ") || t.starts_with("-\t");
}

// A decimal integer or float (YAML 1.2 core schema forms), if `s` is one.
std::optional<json> resolve_number(std::string_view s)
{
    std::string_view body = s.starts_with('+') ? s.substr(1) : s;
    std::string_view digits = body.starts_with('-') ? body.substr(1) : body;
    if (digits.empty() || digits.find_first_not_of("0123456789.eE+-") != std::string_view::npos ||
        !(std::isdigit(static_cast<unsigned char>(digits[0])) || digits[0] == '.'))
        return std::nullopt;
    const char* end = body.data() + body.size();
    std::int64_t i = 0;
    if (auto [p, ec] = std::from_chars(body.data(), end, i); p == end && ec == std::errc())
        return json(i);
    double d = 0;  // also integers beyond int64
    auto [q, ec] = job::chars_to_double(body.data(), end, d);
    if (q != end || (ec != std::errc() && ec != std::errc::result_out_of_range))
        return std::nullopt;
    return json(d);
}

json resolve_plain(std::string_view s)
{
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
        return nullptr;
    if (s == "true" || s == "True" || s == "TRUE")
        return true;
    if (s == "false" || s == "False" || s == "FALSE")
        return false;
    if (auto n = resolve_number(s))
        return *n;
    return std::string(s);
}

class Parser {
public:
    explicit Parser(std::string_view text)
    {
        while (!text.empty()) {
            auto nl = text.find('\n');
            lines_.push_back(text.substr(0, nl));
            text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        }
    }

    json document()
    {
        Line l;
        if (peek(l) && l.text == "---")
            advance();
        json doc = node(0);
        if (peek(l) && l.text != "...")
            throw YamlError{l.no, l.text == "---" ? "multiple YAML documents are not supported"
                                                  : "unexpected indentation or content"};
        return doc;
    }

private:
    std::vector<std::string_view> lines_;
    std::size_t cur_ = 0;
    std::optional<Line> pending_;  // rest of a "- " line, seen at its own column

    bool peek(Line& l)
    {
        if (pending_) {
            l = *pending_;
            return true;
        }
        while (cur_ < lines_.size() && is_comment_or_empty(lines_[cur_]))
            cur_++;
        if (cur_ >= lines_.size())
            return false;
        std::string_view raw = rtrim(lines_[cur_]);
        auto ind = raw.find_first_not_of(' ');
        if (is_space(raw[ind]))
            throw YamlError{static_cast<int>(cur_ + 1), "tabs are not allowed in indentation"};
        l = Line{static_cast<int>(ind), raw.substr(ind), static_cast<int>(cur_ + 1)};
        return true;
    }

    void advance()
    {
        pending_.reset();
        cur_++;
    }

    // A node whose lines are indented at least `min`; null if there is none.
    json node(int min)
    {
        Line l;
        if (!peek(l) || l.indent < min || l.text == "..." || l.text == "---")
            return nullptr;
        if (is_seq_item(l.text))
            return sequence(l.indent);
        if (split_key(l))
            return mapping(l.indent);
        return inline_value(l.text, l, l.indent - 1);
    }

    json sequence(int ind)
    {
        json arr = json::array();
        Line l;
        while (peek(l) && l.indent == ind && is_seq_item(l.text)) {
            std::string_view rest = l.text.substr(1);
            int off = 1 + static_cast<int>(rest.size() - ltrim(rest).size());
            rest = ltrim(rest);
            if (rest.empty() || rest.front() == '#')
                advance();  // the item is the block below
            else
                pending_ = Line{ind + off, rest, l.no};
            arr.push_back(node(ind + 1));
        }
        return arr;
    }

    json mapping(int ind)
    {
        json obj = json::object();
        Line l;
        while (peek(l) && l.indent == ind && !is_seq_item(l.text) && l.text != "..." && l.text != "---") {
            auto kv = split_key(l);
            if (!kv)
                throw YamlError{l.no, "expected 'key: value'"};
            auto& [key, rest] = *kv;
            if (obj.contains(key))
                throw YamlError{l.no, fmt::format("duplicate key '{}'", key)};
            if (rest.empty() || rest.front() == '#') {
                advance();
                Line n;
                if (peek(n) && n.indent == ind && is_seq_item(n.text))
                    obj[key] = sequence(ind);
                else
                    obj[key] = node(ind + 1);
            } else {
                obj[key] = inline_value(rest, l, ind);
            }
        }
        return obj;
    }

    // "key: rest" -> (key, rest with leading space removed); nullopt if not a key.
    std::optional<std::pair<std::string, std::string_view>> split_key(const Line& l)
    {
        std::string_view t = l.text;
        if (t.starts_with("? "))
            throw YamlError{l.no, "complex keys are not supported"};
        std::string key;
        std::size_t pos = 0;
        if (t.front() == '"' || t.front() == '\'') {
            std::size_t end = 0;
            key = quoted(t, end, l.no);
            pos = t.find_first_not_of(' ', end);
            if (pos == std::string_view::npos || t[pos] != ':')
                return std::nullopt;
        } else {
            if (t.front() == '[' || t.front() == '{' || t.front() == '#')
                return std::nullopt;
            for (pos = 0; pos < t.size(); pos++) {
                if (t[pos] == '#' && pos > 0 && is_space(t[pos - 1]))
                    return std::nullopt;
                if (t[pos] == ':' && (pos + 1 == t.size() || is_space(t[pos + 1])))
                    break;
            }
            if (pos == t.size())
                return std::nullopt;
            key = std::string(rtrim(t.substr(0, pos)));
        }
        return std::make_pair(key, ltrim(t.substr(pos + 1)));
    }

    // The value that starts at `rest` on line `l`; `parent` is the indent of
    // the mapping or sequence holding it. Consumes the line(s) it uses.
    json inline_value(std::string_view rest, const Line& l, int parent)
    {
        char c = rest.front();
        if (c == '&' || c == '*')
            throw YamlError{l.no, "anchors and aliases are not supported"};
        if (c == '!')
            throw YamlError{l.no, "tags are not supported"};
        if (c == '|' || c == '>')
            throw YamlError{l.no, "block scalars (| and >) are not supported"};
        if (c == '[' || c == '{')
            return flow_value(rest, l);
        if (c == '"' || c == '\'') {
            std::size_t end = 0;
            std::string s = quoted(rest, end, l.no);
            if (!is_comment_or_empty(rest.substr(end)))
                throw YamlError{l.no, "unexpected text after a quoted scalar"};
            advance();
            return s;
        }
        std::string text = plain_text(rest, l.no);
        advance();
        Line n;
        if (peek(n) && n.indent > parent)
            throw YamlError{n.no, "unexpected indentation (multi-line plain scalars are not supported)"};
        return resolve_plain(text);
    }

    static std::string plain_text(std::string_view s, int no)
    {
        for (std::size_t i = 0; i < s.size(); i++) {
            if (s[i] == '#' && i > 0 && is_space(s[i - 1])) {
                s = s.substr(0, i);
                break;
            }
            if (s[i] == ':' && (i + 1 == s.size() || is_space(s[i + 1])))
                throw YamlError{no, "mapping values are not allowed here"};
        }
        return std::string(rtrim(s));
    }

    // Decode a quoted scalar at the start of `s`; `end` gets the index after it.
    static std::string quoted(std::string_view s, std::size_t& end, int no)
    {
        static constexpr std::string_view from = "0abtnvfre \"/\\";
        static constexpr char to[] = "\0\a\b\t\n\v\f\r\x1b \"/\\";
        char q = s.front();
        std::string out;
        for (std::size_t i = 1; i < s.size(); i++) {
            if (s[i] == q && q == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
                out += s[++i];  // '' is a quote in single quotes
            } else if (s[i] == q) {
                end = i + 1;
                return out;
            } else if (q == '"' && s[i] == '\\') {
                auto k = i + 1 < s.size() ? from.find(s[++i]) : std::string_view::npos;
                if (k == std::string_view::npos)
                    throw YamlError{no, "unsupported escape in double-quoted scalar"};
                out += to[k];
            } else {
                out += s[i];
            }
        }
        throw YamlError{no, "unterminated quoted scalar (multi-line quoted scalars are not supported)"};
    }

    // A flow collection starting at `rest`; it must end on the same line.
    json flow_value(std::string_view rest, const Line& l)
    {
        std::size_t pos = 0;
        json v = flow(rest, pos, l.no);
        skip_ws(rest, pos);
        if (pos != rest.size())
            throw YamlError{l.no, "unexpected text after a flow collection"};
        advance();
        return v;
    }

    static void skip_ws(std::string_view s, std::size_t& p)
    {
        while (p < s.size()) {
            if (is_space(s[p]))
                p++;
            else if (s[p] == '#' && (p == 0 || is_space(s[p - 1])))
                p = s.size();
            else
                break;
        }
    }

    // s[p] after any space and comments.
    static char at(std::string_view s, std::size_t& p, int no)
    {
        skip_ws(s, p);
        if (p >= s.size())
            throw YamlError{no, "unterminated flow collection (it must end on its line)"};
        return s[p];
    }

    // One flow node at s[p].
    static json flow(std::string_view s, std::size_t& p, int no)
    {
        char c = at(s, p, no);
        if (c == '[' || c == '{') {
            char close = c == '[' ? ']' : '}';
            json out = c == '[' ? json::array() : json::object();
            p++;
            while (true) {
                if (at(s, p, no) == close) {
                    p++;
                    return out;
                }
                json item = flow(s, p, no);
                if (c == '{') {
                    if (item.is_structured())
                        throw YamlError{no, "flow mapping keys must be scalars"};
                    std::string key = item.is_string() ? item.get<std::string>() : item.dump();
                    json value = nullptr;
                    if (at(s, p, no) == ':' && at(s, ++p, no) != ',' && s[p] != '}')
                        value = flow(s, p, no);
                    if (out.contains(key))
                        throw YamlError{no, fmt::format("duplicate key '{}'", key)};
                    out[key] = std::move(value);
                } else {
                    out.push_back(std::move(item));
                }
                if (at(s, p, no) == ',')
                    p++;
                else if (s[p] != close)
                    throw YamlError{no, fmt::format("expected ',' or '{}' in flow collection", close)};
            }
        }
        if (c == '"' || c == '\'') {
            std::size_t end = 0;
            std::string str = quoted(s.substr(p), end, no);
            p += end;
            return str;
        }
        if (c == ']' || c == '}' || c == ',')
            throw YamlError{no, fmt::format("unexpected '{}' in flow collection", c)};
        std::size_t start = p;
        while (p < s.size() && s[p] != ',' && s[p] != ']' && s[p] != '}' &&
               !(s[p] == ':' &&
                 (p + 1 == s.size() || std::string_view(" \t,]}").find(s[p + 1]) != std::string_view::npos)) &&
               !(s[p] == '#' && p > start && is_space(s[p - 1])))
            p++;
        return resolve_plain(rtrim(s.substr(start, p - start)));
    }
};

}  // namespace

Result<json> parse_yaml(std::string_view text)
{
    try {
        return Parser(text).document();
    } catch (const YamlError& e) {
        return fail(EINVAL, fmt::format("yaml: line {}: {}", e.line, e.what));
    } catch (const std::exception& e) {  // a bug here must not escape the API
        return fail(EINVAL, fmt::format("yaml: {}", e.what()));
    }
}

}  // namespace flux
