// RFC 36 batch script directives: "# flux: -N2 -n8" lines inside a script
// give flux batch default options.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <flux/error.hpp>

namespace flux::job {

/// The command-line words the directives of `script` carry, in order.
/// A directive is a line of zero or more non-alphanumeric characters (the
/// prefix) followed by "flux:" or "FLUX:"; the words are the rest of the
/// line, split as a POSIX shell would (single and double quotes,
/// backslash), with '#' starting a comment and """...""" quoting text that
/// may span directive lines. Errors (EINVAL, naming the line):
/// - a directive whose sentinel (prefix + tag) differs from the first one;
/// - a directive after a non-blank line that does not start with the
///   prefix (a first-line "#!" aside): directives come in one block, before
///   the script's code;
/// - unterminated quotes.
Result<std::vector<std::string>> parse_directives(std::string_view script);

/// Split `text` into words as a POSIX shell would (quotes, backslash,
/// '#' comments at the start of a word, """ triple quotes).
Result<std::vector<std::string>> shell_split(std::string_view text);

}  // namespace flux::job
