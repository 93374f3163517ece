// A small YAML subset reader, enough for jobspec files (RFC 14/25 examples)
// given to `flux job submit`: converts one YAML document to JSON.
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "flux/error.hpp"

namespace flux {

/// Parse one YAML document into JSON. Supported: block mappings and
/// sequences (including "- key: value" items and sequences indented at
/// their parent key's level), one-line flow collections ([a, b], {a: 1},
/// nested), plain scalars, single-quoted ('' for a quote) and
/// double-quoted scalars (escapes \" \\ \/ \n \t \r \b \f \0 \a \v \e),
/// comments, an optional leading "---" and trailing "...".
///
/// Plain scalars are typed by the YAML 1.2 core schema: null, ~ and empty
/// are null; true/false (also True/TRUE...) are booleans; decimal integers
/// (int64) and floats ("3600." and "1e3" too); anything else is a string.
/// PyYAML, which flux-core uses, follows YAML 1.1 where yes/no/on/off are
/// booleans too; here they stay strings.
///
/// Refused with an error: anchors/aliases, tags, "? " keys, block scalars
/// (| and >), multi-line plain, quoted or flow scalars, multiple
/// documents, tabs in indentation, duplicate mapping keys.
/// Errors: EINVAL "yaml: line N: what is wrong".
Result<nlohmann::json> parse_yaml(std::string_view text);

}  // namespace flux
