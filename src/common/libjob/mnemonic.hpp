// Mnemonicode encoding of 64-bit values, as flux-core's fluid.c applies it
// to FLUIDs (mn_encode() with format "x-x-x--" on the 8 bytes of the id in
// little-endian order). Internal to libjob.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flux::job_detail {

inline constexpr std::size_t mn_base = 1626;         // words used as digits
inline constexpr std::size_t mn_words_total = 1633;  // plus 7 remainder words
extern const std::array<std::string_view, mn_words_total> mn_words;

/// "w-w-w--w-w-w": three words for the low 32 bits, then three for the high.
std::string mnemonic_encode(std::uint64_t value);

/// Inverse of mnemonic_encode(). Exactly six known words (case-insensitive)
/// separated by runs of '-'; each group of three must encode a 32-bit value.
std::optional<std::uint64_t> mnemonic_decode(std::string_view text);

}  // namespace flux::job_detail
