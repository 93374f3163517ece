// Helpers shared by the flux subcommands: errors, handles, parsing.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <flux/handle.hpp>

namespace CLI {
class App;
}

namespace flux::cmd {

/// Print "flux-CMD: MESSAGE" to stderr.
void errorf(std::string_view cmd, std::string_view msg);
/// errorf, then exit with `code`.
[[noreturn]] void die(std::string_view cmd, std::string_view msg, int code = 1);
/// Open a handle on $FLUX_URI or exit with a clear message.
std::unique_ptr<Handle> open_or_die(std::string_view cmd);
/// Parse argv with `app`; on --help print and exit 0, on error print one
/// line and exit 1.
void parse_or_exit(CLI::App& app, int argc, char** argv, std::string_view cmd);
/// Flux Standard Duration (flux::job::parse_duration): "2.5", "30s",
/// "5m", "1h", "2d", "100ms", "inf". With default_unit 'm' a bare number
/// is minutes and infinity is refused (flux::job::parse_time_limit, -t).
Result<double> parse_fsd(std::string_view s, char default_unit = 's');
/// Human duration, 3 significant digits (flux::job::format_duration):
/// "2.3s", "4.1m", "1.2h", "3.4d".
std::string format_fsd(double seconds);

}  // namespace flux::cmd
