// RFC 21 job state and result names.
#include "flux/jobstate.hpp"

#include <strings.h>

#include <array>

#include <fmt/format.h>

namespace flux {

namespace {

struct Names {
    std::uint32_t value;
    std::string_view upper, lower, short_upper, short_lower;
};

constexpr std::array<Names, 7> state_names{{
    {1, "NEW", "new", "N", "n"},
    {2, "DEPEND", "depend", "D", "d"},
    {4, "PRIORITY", "priority", "P", "p"},
    {8, "SCHED", "sched", "S", "s"},
    {16, "RUN", "run", "R", "r"},
    {32, "CLEANUP", "cleanup", "C", "c"},
    {64, "INACTIVE", "inactive", "I", "i"},
}};

constexpr std::array<Names, 4> result_names{{
    {1, "COMPLETED", "completed", "CD", "cd"},
    {2, "FAILED", "failed", "F", "f"},
    {4, "CANCELED", "canceled", "CA", "ca"},
    {8, "TIMEOUT", "timeout", "TO", "to"},
}};

constexpr Names unknown{0, "(unknown)", "(unknown)", "?", "?"};

std::string_view pick(const Names& n, NameForm form)
{
    switch (form) {
        case NameForm::upper:
            return n.upper;
        case NameForm::lower:
            return n.lower;
        case NameForm::short_upper:
            return n.short_upper;
        case NameForm::short_lower:
            return n.short_lower;
    }
    return n.upper;
}

bool iequal(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

template <std::size_t N>
std::string_view name_of(const std::array<Names, N>& table, std::uint32_t value, NameForm form)
{
    for (const auto& n : table) {
        if (n.value == value)
            return pick(n, form);
    }
    return pick(unknown, form);
}

template <std::size_t N>
const Names* find(const std::array<Names, N>& table, std::string_view s)
{
    for (const auto& n : table) {
        if (iequal(s, n.upper) || iequal(s, n.short_upper))
            return &n;
    }
    return nullptr;
}

}  // namespace

JobState job_state_after(JobState state, std::string_view event, bool fatal)
{
    if (event == "validate")
        return JobState::DEPEND;
    if (event == "depend")
        return JobState::PRIORITY;
    if (event == "priority" && state == JobState::PRIORITY)
        return JobState::SCHED;
    if (event == "flux-restart" && state == JobState::SCHED)
        return JobState::PRIORITY;
    if (event == "alloc")
        return JobState::RUN;
    if (event == "finish" && state == JobState::RUN)
        return JobState::CLEANUP;
    if (event == "exception" && fatal && state != JobState::INACTIVE && state != JobState::CLEANUP)
        return JobState::CLEANUP;
    if (event == "clean")
        return JobState::INACTIVE;
    return state;
}

std::string_view job_state_name(JobState state, NameForm form)
{
    return name_of(state_names, static_cast<std::uint32_t>(state), form);
}

Result<JobState> parse_job_state(std::string_view name)
{
    if (const Names* n = find(state_names, name))
        return static_cast<JobState>(n->value);
    return fail(EINVAL, fmt::format("unknown job state '{}'", name));
}

std::string_view job_result_name(JobResult result, NameForm form)
{
    return name_of(result_names, static_cast<std::uint32_t>(result), form);
}

Result<JobResult> parse_job_result(std::string_view name)
{
    if (const Names* n = find(result_names, name))
        return static_cast<JobResult>(n->value);
    return fail(EINVAL, fmt::format("unknown job result '{}'", name));
}

}  // namespace flux
