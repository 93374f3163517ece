// Mnemonicode codec for 64-bit job ids (word list in mn_words.cpp).
#include "mnemonic.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace flux::job_detail {

namespace {

// Word -> 0-based index, built once.
const std::unordered_map<std::string_view, std::size_t>& word_index()
{
    static const auto map = [] {
        std::unordered_map<std::string_view, std::size_t> m;
        for (std::size_t i = 0; i < mn_words.size(); i++)
            m.emplace(mn_words[i], i);
        return m;
    }();
    return map;
}

void encode_group(std::uint32_t x, std::string& out)
{
    out += mn_words[x % mn_base];
    out += '-';
    out += mn_words[(x / mn_base) % mn_base];
    out += '-';
    out += mn_words[(x / mn_base / mn_base) % mn_base];
}

}  // namespace

std::string mnemonic_encode(std::uint64_t value)
{
    std::string out;
    encode_group(static_cast<std::uint32_t>(value & 0xffffffffu), out);
    out += "--";
    encode_group(static_cast<std::uint32_t>(value >> 32), out);
    return out;
}

std::optional<std::uint64_t> mnemonic_decode(std::string_view text)
{
    std::vector<std::size_t> idx;
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (text[pos] == '-') {
            pos++;
            continue;
        }
        auto end = text.find('-', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string word(text.substr(pos, end - pos));
        std::transform(word.begin(), word.end(), word.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
        auto it = word_index().find(word);
        if (it == word_index().end() || it->second >= mn_base || idx.size() == 6)
            return std::nullopt;
        idx.push_back(it->second);
        pos = end;
    }
    if (idx.size() != 6)
        return std::nullopt;
    std::uint64_t value = 0;
    for (int g = 0; g < 2; g++) {
        std::uint64_t x = idx[g * 3] + idx[g * 3 + 1] * mn_base + idx[g * 3 + 2] * mn_base * mn_base;
        if (x > 0xffffffffu)
            return std::nullopt;  // one of the ~0.09% unused combinations
        value |= x << (32 * g);
    }
    return value;
}

}  // namespace flux::job_detail
