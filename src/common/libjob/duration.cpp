// RFC 23 Flux Standard Duration, and the CLI's -t/--time-limit rule.
#include <charconv>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "flux/jobspec.hpp"
#include "number.hpp"

namespace flux::job {

namespace {

std::unexpected<Error> invalid_fsd(std::string_view s)
{
    return fail(EINVAL, fmt::format("invalid Flux standard duration '{}'", s));
}

// A whole-string floating point number, locale-independent (unlike strtod,
// whose decimal point follows LC_NUMERIC once a command calls setlocale).
// Accepts what strtod would for FSD purposes: decimal or exponent forms,
// "inf"/"infinity"; refuses signs other than '-', hex and space.
std::optional<double> to_double(std::string_view s)
{
    double v = 0;
    if (s.empty())
        return std::nullopt;
    auto [p, ec] = chars_to_double(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

}  // namespace

Result<double> parse_duration(std::string_view fsd)
{
    std::string_view num = fsd;
    double mult = 1;
    if (fsd.ends_with("ms")) {
        mult = 1e-3;
        num.remove_suffix(2);
    } else if (!fsd.empty()) {
        switch (fsd.back()) {
            case 's':
                mult = 1;
                break;
            case 'm':
                mult = 60;
                break;
            case 'h':
                mult = 3600;
                break;
            case 'd':
                mult = 86400;
                break;
            default:
                mult = 0;
                break;  // no unit
        }
        if (mult != 0)
            num.remove_suffix(1);
        else
            mult = 1;
    }
    auto v = to_double(num);
    if (!v || std::isnan(*v) || *v < 0)
        return invalid_fsd(fsd);
    if (std::isinf(*v)) {
        if (num.size() != fsd.size())
            return invalid_fsd(fsd);  // units are not allowed on infinity
        return *v;
    }
    return *v * mult;
}

std::string format_duration(double seconds, int precision)
{
    if (std::isinf(seconds) && seconds > 0)
        return "infinity";
    if (std::isnan(seconds) || seconds < 0)
        return "invalid";
    if (seconds < 0.1 && seconds != 0)
        return fmt::format("{:.{}g}ms", seconds * 1000, precision);
    if (seconds < 60)
        return fmt::format("{:.{}g}s", seconds, precision);
    if (seconds < 3600)
        return fmt::format("{:.{}g}m", seconds / 60, precision);
    if (seconds < 86400)
        return fmt::format("{:.{}g}h", seconds / 3600, precision);
    return fmt::format("{:.{}g}d", seconds / 86400, precision);
}

Result<double> parse_time_limit(std::string_view arg)
{
    double seconds = 0;
    if (auto v = to_double(arg))
        seconds = *v * 60;  // a bare number is minutes
    else if (auto d = parse_duration(arg))
        seconds = *d;
    else
        return std::unexpected(d.error());
    if (seconds < 0)
        return fail(EINVAL, "duration must not be negative");
    if (!std::isfinite(seconds))
        return fail(EINVAL, "duration must be a normal, finite value");
    return seconds;
}

}  // namespace flux::job
