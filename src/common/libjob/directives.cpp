// RFC 36 submission directives (include/flux/directives.hpp).
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include <flux/directives.hpp>

namespace flux::job {

Result<std::vector<std::string>> shell_split(std::string_view text)
{
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    std::size_t i = 0;
    auto end_word = [&] {
        if (in_word)
            words.push_back(std::move(cur));
        cur.clear();
        in_word = false;
    };
    while (i < text.size()) {
        char c = text[i];
        if (text.substr(i, 3) == "\"\"\"") {
            std::size_t close = text.find("\"\"\"", i + 3);
            if (close == std::string_view::npos)
                return fail(EINVAL, "unterminated triple quote");
            std::string_view body = text.substr(i + 3, close - i - 3);
            if (body.starts_with('\n'))  // """ ends its line: the text starts on the next
                body.remove_prefix(1);
            cur += body;
            in_word = true;
            i = close + 3;
        } else if (c == '\'') {
            std::size_t close = text.find('\'', i + 1);
            if (close == std::string_view::npos)
                return fail(EINVAL, "unterminated single quote");
            cur += text.substr(i + 1, close - i - 1);
            in_word = true;
            i = close + 1;
        } else if (c == '"') {
            std::size_t j = i + 1;
            for (; j < text.size() && text[j] != '"'; j++) {
                if (text[j] == '\\' && j + 1 < text.size() &&
                    (text[j + 1] == '"' || text[j + 1] == '\\' || text[j + 1] == '$' || text[j + 1] == '`'))
                    j++;
                cur += text[j];
            }
            if (j >= text.size())
                return fail(EINVAL, "unterminated double quote");
            in_word = true;
            i = j + 1;
        } else if (c == '\\' && i + 1 < text.size()) {
            if (text[i + 1] != '\n')
                cur += text[i + 1];
            in_word = true;
            i += 2;
        } else if (c == '#' && !in_word) {
            std::size_t nl = text.find('\n', i);
            i = nl == std::string_view::npos ? text.size() : nl;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            end_word();
            i++;
        } else {
            cur += c;
            in_word = true;
            i++;
        }
    }
    end_word();
    return words;
}

Result<std::vector<std::string>> parse_directives(std::string_view script)
{
    struct Line {
        std::string_view text;
        std::size_t tag;  // where "flux:" would start: after the non-alphanumeric prefix
        bool directive;
    };
    std::vector<Line> lines;
    for (std::size_t pos = 0; pos < script.size();) {
        std::size_t nl = script.find('\n', pos);
        std::string_view text = script.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? script.size() : nl + 1;
        std::size_t p = 0;
        while (p < text.size() && !std::isalnum(static_cast<unsigned char>(text[p])))
            p++;
        lines.push_back({text, p, text.substr(p, 5) == "flux:" || text.substr(p, 5) == "FLUX:"});
    }
    auto first = std::find_if(lines.begin(), lines.end(), [](const Line& l) { return l.directive; });
    if (first == lines.end())
        return std::vector<std::string>{};
    std::string_view sentinel = first->text.substr(0, first->tag + 5);
    std::string_view prefix = first->text.substr(0, first->tag);
    // Directives come in one block before the script's code: the first
    // non-blank line that does not start with the prefix (a "#!" on line 1
    // aside) ends it.
    std::size_t code = 0;
    std::string body;  // the directives' text, one line each
    for (std::size_t i = 0; i < lines.size(); i++) {
        const Line& l = lines[i];
        if (!l.directive) {
            bool blank = l.text.find_first_not_of(" \t\r") == std::string_view::npos;
            if (!code && !blank && !l.text.starts_with(prefix) && !(i == 0 && l.text.starts_with("#!")))
                code = i + 1;
            continue;
        }
        if (l.text.substr(0, l.tag + 5) != sentinel)
            return fail(EINVAL, fmt::format("line {}: directive sentinel '{}' differs from '{}' used before", i + 1,
                                            l.text.substr(0, l.tag + 5), sentinel));
        if (code)
            return fail(EINVAL, fmt::format("line {}: directive after the script's code began (line {})", i + 1, code));
        std::string_view rest = l.text.substr(l.tag + 5);
        if (rest.starts_with(' '))
            rest.remove_prefix(1);
        body += rest;
        body += '\n';
    }
    auto words = shell_split(body);
    if (!words)
        return fail(EINVAL, fmt::format("directives: {}", words.error().message()));
    return words;
}

}  // namespace flux::job
