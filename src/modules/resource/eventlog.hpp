// A persistent RFC 18 eventlog file: one JSON object per line, appended
// and synced before the caller goes on.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <flux/error.hpp>

namespace flux::resource {

class EventlogFile {
public:
    /// Open (creating) `path`; an empty path keeps the log in memory only.
    static Result<EventlogFile> open(const std::string& path);
    EventlogFile() = default;
    EventlogFile(EventlogFile&& o) noexcept;
    EventlogFile& operator=(EventlogFile&& o) noexcept;
    ~EventlogFile();

    /// Append {"timestamp","name","context"} and fsync it.
    Result<void> append(const std::string& name, const nlohmann::json& context);
    /// Entries read at open() plus those appended since.
    const std::vector<nlohmann::json>& entries() const { return entries_; }
    std::string text() const;

private:
    int fd_ = -1;
    std::vector<nlohmann::json> entries_;
};

}  // namespace flux::resource
