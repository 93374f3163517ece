// Error values: an errno plus a human-readable message (STYLE habit 4).
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

namespace flux {

/// An error as it travels through the system: `errnum` is a POSIX errno
/// (it maps one to one onto an RPC error response), `text` says what went
/// wrong in words a user can act on. An empty text means "use strerror".
struct Error {
    int errnum = EINVAL;
    std::string text;

    Error() = default;
    Error(int e, std::string t = {}) : errnum(e), text(std::move(t)) {}

    /// The text, or strerror(errnum) when no text was given.
    std::string message() const;
};

template <class T>
using Result = std::expected<T, Error>;

/// Convenience: `return flux::fail(ENOENT, "no such thing");`
inline std::unexpected<Error> fail(int errnum, std::string text = {})
{
    return std::unexpected<Error>(Error(errnum, std::move(text)));
}

}  // namespace flux
