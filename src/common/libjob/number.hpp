// Locale-independent parsing of a decimal floating point number.
#pragma once

#include <charconv>
#include <system_error>

#if !defined(__cpp_lib_to_chars)
#include <cerrno>
#include <clocale>
#include <cstdlib>
#include <string>
#endif

namespace flux::job {

/// std::from_chars for double, where the standard library has it
/// (libstdc++). Otherwise (libc++ before 17, which the clang fuzz build
/// uses) the same contract over strtod_l in the "C" locale: no leading space
/// or '+', hex read as its leading "0", and on overflow the value is left
/// as it was with errc::result_out_of_range.
inline std::from_chars_result chars_to_double(const char* first, const char* last, double& value)
{
#if defined(__cpp_lib_to_chars)
    return std::from_chars(first, last, value);
#else
    if (first == last || *first == ' ' || *first == '+' || *first == '\t' || *first == '\n')
        return {first, std::errc::invalid_argument};
    std::string text(first, last);
    std::size_t neg = text[0] == '-' ? 1 : 0;
    if (text.size() > neg + 1 && text[neg] == '0' && (text[neg + 1] == 'x' || text[neg + 1] == 'X'))
        text.resize(neg + 1);
    static locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t(0));
    char* end = nullptr;
    errno = 0;
    double v = strtod_l(text.c_str(), &end, c_locale);
    if (end == text.c_str())
        return {first, std::errc::invalid_argument};
    const char* ptr = first + (end - text.c_str());
    if (errno == ERANGE)
        return {ptr, std::errc::result_out_of_range};
    value = v;
    return {ptr, std::errc()};
#endif
}

}  // namespace flux::job
