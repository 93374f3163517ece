// Shared command helpers.
#include "common.hpp"

#include <CLI/CLI.hpp>

#include <flux/jobspec.hpp>

namespace flux::cmd {

void errorf(std::string_view cmd, std::string_view msg)
{
    fmt::print(stderr, "flux-{}: {}\n", cmd, msg);
}

void die(std::string_view cmd, std::string_view msg, int code)
{
    errorf(cmd, msg);
    std::exit(code);
}

std::unique_ptr<Handle> open_or_die(std::string_view cmd)
{
    auto h = Handle::open();
    if (!h)
        die(cmd, h.error().message());
    return std::move(*h);
}

void parse_or_exit(CLI::App& app, int argc, char** argv, std::string_view cmd)
{
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        fmt::print("{}", app.help());
        std::exit(0);
    } catch (const CLI::ParseError& e) {
        die(cmd, e.what());
    }
}

Result<double> parse_fsd(std::string_view s, char default_unit)
{
    return default_unit == 'm' ? job::parse_time_limit(s) : job::parse_duration(s);
}

std::string format_fsd(double s)
{
    return job::format_duration(s, 3);
}

}  // namespace flux::cmd
