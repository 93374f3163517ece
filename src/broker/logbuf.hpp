// The broker's log ring (flux dmesg): recent log entries, newest last.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace flux::broker {

struct LogEntry {
    uint64_t seq = 0;
    double timestamp = 0;  // wall clock, seconds since the epoch
    int level = 6;         // syslog severity
    uint32_t rank = 0;
    std::string hostname;
    std::string name;  // who logged: "broker", a module name, a command
    std::string message;
};

/// Print an entry on the broker's stderr (through spdlog), as
/// "flux-broker[RANK]: NAME.LEVEL: MESSAGE".
void log_to_stderr(const LogEntry& e);

/// syslog severity names ("emerg" .. "debug"); "?" when out of range.
const char* level_name(int level);
/// Parse a level name or number; -1 when invalid.
int parse_level(const std::string& s);

class LogBuf {
public:
    explicit LogBuf(size_t capacity = 1024) : capacity_(capacity) {}
    /// Append; assigns and returns the entry's sequence number.
    uint64_t append(LogEntry e);
    void clear() { ring_.clear(); }
    void set_capacity(size_t n);
    const std::deque<LogEntry>& entries() const { return ring_; }
    uint64_t last_seq() const { return next_seq_ - 1; }

private:
    size_t capacity_;
    uint64_t next_seq_ = 1;
    std::deque<LogEntry> ring_;
};

}  // namespace flux::broker
