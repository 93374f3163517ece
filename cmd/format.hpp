// Output templates in Python's str.format style, as flux-core's -o FORMAT
// (flux.util.OutputFormat and UtilFormatter): "{state:>10} {nnodes:>6h}".
// Flux extensions, as there:
// - a spec ending in 'h' prints "-" for an empty value ("", "0s", "0.0",
//   "0:00:00", the epoch as a date);
// - a spec ending in '+' marks truncation: "{name:<10.10+}" ends a cut
//   value with "+";
// - conversions: !d (timestamp to date: "{t!d:STRFTIME::SPEC}"), !D (ISO
//   8601 date or ""), !F (seconds as FSD: "1.5m"), !H (seconds as
//   H:MM:SS), !P (fraction as a percentage);
// - sentinels before a field: "?:" drops the column when it is empty in
//   every row, "+:" widens it to its widest value, "?+:" does both
//   (filter());
// - a "sort:KEY,-KEY " prefix sets sort keys (sort()).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <flux/error.hpp>

namespace flux::cmd {

using FieldValue = std::variant<std::string, long long, double>;
using Row = std::map<std::string, FieldValue>;

class OutputFormat {
public:
    /// Heading of a valid field name, nullopt for an unknown one.
    using Headings = std::function<std::optional<std::string>(const std::string& field)>;

    /// Parse `fmt`; every field must be in `fields` (name -> column heading).
    /// Errors: EINVAL naming an unknown field, a bad conversion or sort key.
    static Result<OutputFormat> parse(const std::string& fmt, const std::map<std::string, std::string>& fields);
    static Result<OutputFormat> parse(const std::string& fmt, Headings headings);

    /// Column headings (each spec reduced to alignment and width).
    std::string header() const;
    /// One row; missing fields are "". Trailing blanks are removed unless
    /// `trim` is false.
    std::string format(const Row& row, bool trim = true) const;
    /// Field names used, in order (sort keys not included).
    std::vector<std::string> fields() const;

    /// This format with the "?:", "+:" and "?+:" sentinels resolved for
    /// `rows` (flux.util.OutputFormat.filter): empty columns dropped,
    /// expanding columns widened to the widest value (and heading unless
    /// no_header).
    OutputFormat filter(const std::vector<Row>& rows, bool no_header = false) const;

    /// Replace the sort keys: "KEY,-KEY" (a '-' sorts that key in reverse).
    /// Errors: EINVAL "Invalid sort key: KEY".
    Result<void> set_sort_keys(const std::string& keys);
    const std::vector<std::pair<std::string, bool>>& sort_keys() const { return sort_keys_; }
    /// Stable sort of `rows` by the sort keys (numbers before strings).
    void sort(std::vector<Row>& rows) const;

private:
    struct Piece {
        std::string literal;   // text before the field (sentinel removed)
        std::string sentinel;  // "", "?:", "+:" or "?+:"
        std::string field;     // empty for trailing text
        std::string conv;      // "", "d", "D", "F", "H", "P"
        std::string spec;      // as written after ':' (for !d: STRFTIME::SPEC)
        std::string heading;
    };
    std::string format_piece(const Piece& p, const FieldValue& v) const;
    std::vector<Piece> pieces_;
    std::vector<std::pair<std::string, bool>> sort_keys_;
    Headings headings_;
};

/// Python's str() of a value: 2.0 -> "2.0", 5 -> "5".
std::string py_str(const FieldValue& v);
/// flux.util.fsd(): "0s", "1.250s", "12.5s", "2.5m", "1.2h", "3d", "inf".
std::string fsd(double seconds);
/// Python's str(timedelta(seconds=round(s))), e.g. "0:01:05", "1 day, 2:00:00".
std::string hms(double seconds);

/// Width as Python counts it: UTF-8 code points.
size_t cp_count(const std::string& s);
/// Byte offset of code point `n` of `s` (s.size() if it has fewer).
size_t cp_offset(const std::string& s, size_t n);

}  // namespace flux::cmd
