// Broker log ring.
#include "logbuf.hpp"

#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace flux::broker {

namespace {
const char* const names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
}

const char* level_name(int level)
{
    return level >= 0 && level <= 7 ? names[level] : "?";
}

int parse_level(const std::string& s)
{
    for (int i = 0; i <= 7; i++)
        if (s == names[i])
            return i;
    if (s == "error")
        return 3;
    if (s == "warn")
        return 4;
    if (s.size() == 1 && s[0] >= '0' && s[0] <= '7')
        return s[0] - '0';
    return -1;
}

void log_to_stderr(const LogEntry& e)
{
    static auto logger = [] {
        auto l = spdlog::stderr_logger_st("flux-broker");
        l->set_pattern("%v");
        l->set_level(spdlog::level::trace);
        return l;
    }();
    static const spdlog::level::level_enum map[] = {
        spdlog::level::critical, spdlog::level::critical, spdlog::level::critical, spdlog::level::err,
        spdlog::level::warn,     spdlog::level::info,     spdlog::level::info,     spdlog::level::debug};
    auto lvl = e.level >= 0 && e.level <= 7 ? map[e.level] : spdlog::level::info;
    logger->log(lvl, "flux-broker[{}]: {}.{}: {}", e.rank, e.name, level_name(e.level), e.message);
}

uint64_t LogBuf::append(LogEntry e)
{
    e.seq = next_seq_++;
    ring_.push_back(std::move(e));
    while (ring_.size() > capacity_)
        ring_.pop_front();
    return ring_.back().seq;
}

void LogBuf::set_capacity(size_t n)
{
    capacity_ = n > 0 ? n : 1;
    while (ring_.size() > capacity_)
        ring_.pop_front();
}

}  // namespace flux::broker
