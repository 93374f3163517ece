// Persistent eventlog file.
#include "eventlog.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace flux::resource {

using json = nlohmann::json;

Result<EventlogFile> EventlogFile::open(const std::string& path)
{
    EventlogFile log;
    if (path.empty())
        return log;
    std::ifstream in(path);
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        lineno++;
        if (line.empty())
            continue;
        try {
            auto e = json::parse(line);
            if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
                throw std::runtime_error("not an eventlog entry");
            log.entries_.push_back(std::move(e));
        } catch (const std::exception& ex) {
            return fail(EINVAL, fmt::format("{}:{}: {}", path, lineno, ex.what()));
        }
    }
    log.fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log.fd_ < 0)
        return fail(errno, fmt::format("{}: {}", path, strerror(errno)));
    return log;
}

EventlogFile::EventlogFile(EventlogFile&& o) noexcept : fd_(o.fd_), entries_(std::move(o.entries_))
{
    o.fd_ = -1;
}

EventlogFile& EventlogFile::operator=(EventlogFile&& o) noexcept
{
    if (this != &o) {
        if (fd_ >= 0)
            close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
        entries_ = std::move(o.entries_);
    }
    return *this;
}

EventlogFile::~EventlogFile()
{
    if (fd_ >= 0)
        close(fd_);
}

Result<void> EventlogFile::append(const std::string& name, const json& context)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json e{{"timestamp", static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9}, {"name", name}};
    if (!context.is_null() && !context.empty())
        e["context"] = context;
    if (fd_ >= 0) {
        std::string line = e.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || fsync(fd_) < 0)
            return fail(errno ? errno : EIO, fmt::format("eventlog append: {}", strerror(errno ? errno : EIO)));
    }
    entries_.push_back(std::move(e));
    return {};
}

std::string EventlogFile::text() const
{
    std::string s;
    for (const auto& e : entries_)
        s += e.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return s;
}

}  // namespace flux::resource
