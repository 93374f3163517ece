// RFC 36 submission directives (include/flux/directives.hpp).
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
    std::string body;  // the directives' text, one line each
    std::string sentinel, prefix;
    bool found = false, ended = false;
    // Non-blank lines before the first directive (a leading "#!" aside):
    // each must start with that directive's prefix (comments, for a shell).
    std::vector<std::pair<std::size_t, std::string_view>> before;
    std::size_t lineno = 0, pos = 0;
    while (pos < script.size()) {
        std::size_t nl = script.find('\n', pos);
        std::string_view line = script.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? script.size() : nl + 1;
        lineno++;
        std::size_t p = 0;
        while (p < line.size() && !std::isalnum(static_cast<unsigned char>(line[p])))
            p++;
        bool directive = line.substr(p, 5) == "flux:" || line.substr(p, 5) == "FLUX:";
        if (!directive) {
            bool blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
            if (found && !blank && !line.starts_with(prefix))
                ended = true;
            else if (!found && !blank && !(lineno == 1 && line.starts_with("#!")))
                before.emplace_back(lineno, line);
            continue;
        }
        std::string s(line.substr(0, p + 5));
        if (!found) {
            sentinel = s;
            prefix = std::string(line.substr(0, p));
            found = true;
            for (const auto& [n, text] : before)
                if (!text.starts_with(prefix))
                    return fail(EINVAL,
                                fmt::format("line {}: directive after a non-directive line (line {})", lineno, n));
        } else if (s != sentinel) {
            return fail(EINVAL, fmt::format("line {}: directive sentinel '{}' differs from '{}' used before", lineno, s,
                                            sentinel));
        } else if (ended) {
            return fail(EINVAL, fmt::format("line {}: directive after the first block of directives ended", lineno));
        }
        std::string_view rest = line.substr(p + 5);
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
