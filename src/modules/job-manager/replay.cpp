// Replaying a stored eventlog (see replay.hpp).
#include "replay.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace flux::jobmgr {

namespace {

using json = nlohmann::json;

template <typename T>
T field(const json& ctx, const char* key, T dflt)
{
    auto it = ctx.find(key);
    if (it == ctx.end())
        return dflt;
    if constexpr (std::is_same_v<T, std::string>)
        return it->is_string() ? it->get<std::string>() : dflt;
    else
        return it->is_number() ? it->get<T>() : dflt;
}

}  // namespace

JobResult job_result(bool fatal, const std::string& fatal_type, int wait_status)
{
    if (fatal) {
        if (fatal_type == "cancel")
            return JobResult::CANCELED;
        if (fatal_type == "timeout")
            return JobResult::TIMEOUT;
        return JobResult::FAILED;
    }
    return wait_status == 0 ? JobResult::COMPLETED : JobResult::FAILED;
}

Result<Replay> replay_eventlog(const std::vector<std::string>& entries)
{
    Replay r;
    static const json empty = json::object();
    for (std::size_t i = 0; i < entries.size(); i++) {
        json e = json::parse(entries[i], nullptr, false);
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("timestamp") ||
            !e["timestamp"].is_number())
            return fail(EPROTO, fmt::format("eventlog entry {} is not an event", i + 1));
        const std::string name = e["name"].get<std::string>();
        auto c = e.find("context");
        const json& ctx = c != e.end() && c->is_object() ? *c : empty;
        if (i == 0 && name != "submit")
            return fail(EPROTO, fmt::format("the eventlog begins with \"{}\", not submit", name));
        bool fatal = false;
        if (name == "submit") {
            r.userid = field<std::uint32_t>(ctx, "userid", 0);
            r.urgency = field<int>(ctx, "urgency", 16);
            r.flags = field<int>(ctx, "flags", 0);
            r.t_submit = e["timestamp"].get<double>();
        } else if (name == "urgency") {
            r.urgency = field<int>(ctx, "urgency", r.urgency);
        } else if (name == "priority") {
            r.priority = field<std::uint32_t>(ctx, "priority", r.priority);
        } else if (name == "dependency-add") {
            r.deps.push_back(field<std::string>(ctx, "description", ""));
        } else if (name == "dependency-remove") {
            auto it = std::find(r.deps.begin(), r.deps.end(), field<std::string>(ctx, "description", ""));
            if (it != r.deps.end())
                r.deps.erase(it);
        } else if (name == "alloc") {
            r.allocated = true;
        } else if (name == "free") {
            r.allocated = false;
        } else if (name == "start") {
            r.started = true;
        } else if (name == "finish") {
            r.finished = true;
            r.wait_status = field<int>(ctx, "status", 0);
        } else if (name == "exception") {
            fatal = field<int>(ctx, "severity", 0) == 0;
            if (fatal && !r.fatal) {
                r.fatal = true;
                r.fatal_type = field<std::string>(ctx, "type", "");
                r.fatal_note = field<std::string>(ctx, "note", "");
            }
        }
        r.state = job_state_after(r.state, name, fatal);
    }
    if (entries.empty())
        return fail(EPROTO, "the eventlog is empty");
    return r;
}

}  // namespace flux::jobmgr
