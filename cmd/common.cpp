// Shared command helpers.
#include "common.hpp"

#include <CLI/CLI.hpp>

#include <cmath>

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
    if (s.empty())
        return fail(EINVAL, "empty duration");
    std::string str(s);
    double mult = default_unit == 'm' ? 60 : 1;
    size_t numlen = str.size();
    if (str.ends_with("ms")) {
        mult = 1e-3;
        numlen -= 2;
    } else if (!std::isdigit(static_cast<unsigned char>(str.back())) && str.back() != '.') {
        switch (str.back()) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        default: return fail(EINVAL, fmt::format("invalid duration '{}'", s));
        }
        numlen--;
    }
    std::string num = str.substr(0, numlen);
    char* end = nullptr;
    double v = std::strtod(num.c_str(), &end);
    if (num.empty() || !end || *end != '\0' || v < 0 || std::isnan(v))
        return fail(EINVAL, fmt::format("invalid duration '{}'", s));
    if (std::isinf(v))
        return v;
    return v * mult;
}

std::string format_fsd(double s)
{
    if (s < 60)
        return fmt::format("{:.3g}s", s);
    if (s < 3600)
        return fmt::format("{:.3g}m", s / 60);
    if (s < 86400)
        return fmt::format("{:.3g}h", s / 3600);
    return fmt::format("{:.3g}d", s / 86400);
}

}  // namespace flux::cmd
