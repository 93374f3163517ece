// RFC 18 eventlog entries: one compact JSON object per line,
// {"timestamp": SECONDS, "name": NAME, "context": {...}} with context optional.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "flux/error.hpp"

namespace flux {

struct EventEntry {
    double timestamp = 0;    ///< seconds since the Unix epoch, > 0
    std::string name;        ///< non-empty
    nlohmann::json context;  ///< an object, or null when the entry has none
};

/// An entry named `name` stamped with the current wall clock time.
EventEntry make_event(std::string name, nlohmann::json context = nullptr);

/// One eventlog line: compact JSON with the keys in the order timestamp,
/// name, context, then "\n". Context is omitted when null or an empty
/// object. Strings that are not valid UTF-8 are written with U+FFFD in
/// place of the bad bytes (never throws).
std::string encode_entry(const EventEntry& entry);

/// Decode one line (a single trailing "\n" is allowed, no other newline).
/// Per RFC 18: a JSON object with a number "timestamp" > 0, a non-empty
/// string "name" and, if present, an object "context"; other keys are
/// ignored. Errors: EINVAL, the text saying which rule failed.
Result<EventEntry> decode_entry(std::string_view line);

/// Decode a whole eventlog: zero or more lines, each ending in "\n".
/// Errors: EINVAL "line N: ..." for the first bad line (an empty line or
/// a last line without its newline are errors too).
Result<std::vector<EventEntry>> decode_eventlog(std::string_view text);

}  // namespace flux
