// Output templates in Python's str.format style, as flux-core's -o FORMAT:
// "{state:>10} {nnodes:>6} {nodelist}". Extensions: a spec ending in 'h'
// prints "-" for an empty or zero value; "{field!d:STRFTIME::SPEC}" formats
// a timestamp with strftime, then applies SPEC.
#pragma once

#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <flux/error.hpp>

namespace flux::cmd {

using FieldValue = std::variant<std::string, long long, double>;
using Row = std::map<std::string, FieldValue>;

class OutputFormat {
public:
    /// Parse `fmt`; every field must be in `fields` (name -> column heading).
    static Result<OutputFormat> parse(const std::string& fmt, const std::map<std::string, std::string>& fields);
    std::string header() const;
    std::string format(const Row& row) const;
    /// Field names used, in order.
    std::vector<std::string> fields() const;

private:
    struct Piece {
        std::string literal;  // text before the field
        std::string field;    // empty for trailing text
        std::string conv;     // "d" or ""
        std::string strftime_fmt;
        std::string spec;     // fmt spec without the 'h' suffix
        bool dash_if_empty = false;
        std::string heading;
    };
    std::vector<Piece> pieces_;
};

}  // namespace flux::cmd
