// RFC 18 eventlog entry codec.
#include "flux/eventlog.hpp"

#include <time.h>

#include <cmath>

#include <fmt/format.h>

namespace flux {

using nlohmann::json;

namespace {

constexpr auto dump_lossy = json::error_handler_t::replace;

}  // namespace

EventEntry make_event(std::string name, json context)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return EventEntry{static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9, std::move(name),
                      std::move(context)};
}

std::string encode_entry(const EventEntry& entry)
{
    // Built by hand: nlohmann::json would order the keys alphabetically.
    std::string out = "{\"timestamp\":";
    out += json(entry.timestamp).dump();
    out += ",\"name\":";
    out += json(entry.name).dump(-1, ' ', false, dump_lossy);
    if (!entry.context.is_null() && !(entry.context.is_object() && entry.context.empty())) {
        out += ",\"context\":";
        out += entry.context.dump(-1, ' ', false, dump_lossy);
    }
    out += "}\n";
    return out;
}

Result<EventEntry> decode_entry(std::string_view line)
{
    if (line.ends_with('\n'))
        line.remove_suffix(1);
    if (line.find('\n') != std::string_view::npos)
        return fail(EINVAL, "eventlog entry contains a newline");
    json j;
    try {
        j = json::parse(line);
    } catch (const json::exception& e) {
        return fail(EINVAL, fmt::format("eventlog entry is not valid JSON: {}", e.what()));
    }
    if (!j.is_object())
        return fail(EINVAL, "eventlog entry is not a JSON object");
    auto ts = j.find("timestamp");
    if (ts == j.end() || !ts->is_number())
        return fail(EINVAL, "eventlog entry has no number 'timestamp'");
    double t = ts->get<double>();
    if (!(t > 0) || !std::isfinite(t))
        return fail(EINVAL, "eventlog entry 'timestamp' must be greater than zero");
    auto name = j.find("name");
    if (name == j.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
        return fail(EINVAL, "eventlog entry has no non-empty string 'name'");
    EventEntry e{t, name->get<std::string>(), nullptr};
    if (auto ctx = j.find("context"); ctx != j.end()) {
        if (!ctx->is_object())
            return fail(EINVAL, "eventlog entry 'context' must be a JSON object");
        e.context = std::move(*ctx);
    }
    return e;
}

Result<std::vector<EventEntry>> decode_eventlog(std::string_view text)
{
    std::vector<EventEntry> entries;
    int lineno = 0;
    while (!text.empty()) {
        lineno++;
        auto nl = text.find('\n');
        if (nl == std::string_view::npos)
            return fail(EINVAL, fmt::format("line {}: eventlog entry is missing its newline", lineno));
        auto e = decode_entry(text.substr(0, nl));
        if (!e)
            return fail(EINVAL, fmt::format("line {}: {}", lineno, e.error().text));
        entries.push_back(std::move(*e));
        text.remove_prefix(nl + 1);
    }
    return entries;
}

}  // namespace flux
