// Blocking PMI-1 wire protocol client (RFC 13); see include/flux/pmi_client.hpp.
#include "flux/pmi_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace flux {

namespace {

std::optional<int> parse_env_int(const char* name)
{
    const char* s = std::getenv(name);
    if (!s || !*s)
        return std::nullopt;
    std::string_view v(s);
    int n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size())
        return std::nullopt;
    return n;
}

// Wait until fd is ready for `events`; used when an inherited fd is non-blocking.
Result<void> wait_fd(int fd, short events)
{
    pollfd pfd{fd, events, 0};
    while (::poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR)
            return fail(errno, "PMI poll failed");
    }
    return {};
}

std::string errno_text(std::string_view what)
{
    std::string s(what);
    s += ": ";
    s += std::generic_category().message(errno);
    return s;
}

}  // namespace

PmiClient::PmiClient(int fd, int rank, int size) : fd_(fd), rank_(rank), size_(size)
{
}

PmiClient::~PmiClient()
{
    if (fd_ >= 0)
        ::close(fd_);
}

PmiClient::PmiClient(PmiClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      rank_(other.rank_),
      size_(other.size_),
      kvsname_(std::move(other.kvsname_)),
      keylen_max_(other.keylen_max_),
      vallen_max_(other.vallen_max_),
      in_(std::move(other.in_))
{
}

PmiClient& PmiClient::operator=(PmiClient&& other) noexcept
{
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        rank_ = other.rank_;
        size_ = other.size_;
        kvsname_ = std::move(other.kvsname_);
        keylen_max_ = other.keylen_max_;
        vallen_max_ = other.vallen_max_;
        in_ = std::move(other.in_);
    }
    return *this;
}

Result<PmiClient> PmiClient::from_env()
{
    if (!std::getenv("PMI_FD"))
        return fail(ENOENT, "PMI_FD is not set");
    auto fd = parse_env_int("PMI_FD");
    auto rank = parse_env_int("PMI_RANK");
    auto size = parse_env_int("PMI_SIZE");
    if (!fd || *fd < 0)
        return fail(EINVAL, "PMI_FD is not a file descriptor number");
    if (!rank || !size)
        return fail(EINVAL, "PMI_RANK or PMI_SIZE is missing or not an integer");
    if (*size < 1 || *rank < 0 || *rank >= *size)
        return fail(EINVAL, "PMI_RANK is not in 0..PMI_SIZE-1");
    int flags = ::fcntl(*fd, F_GETFD);
    if (flags < 0)
        return fail(EINVAL, errno_text("PMI_FD " + std::to_string(*fd)));
    (void)::fcntl(*fd, F_SETFD, flags | FD_CLOEXEC);
    return PmiClient(*fd, *rank, *size);
}

Result<void> PmiClient::require_init() const
{
    if (kvsname_.empty())
        return fail(EINVAL, "PMI client is not initialized");
    return {};
}

Result<void> PmiClient::write_all(std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = ::write(fd_, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (auto r = wait_fd(fd_, POLLOUT); !r)
                    return r;
                continue;
            }
            return fail(errno, errno_text("PMI write failed"));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

Result<std::string> PmiClient::read_line()
{
    std::size_t scanned = 0;
    for (;;) {
        std::size_t nl = in_.find('\n', scanned);
        if (nl != std::string::npos) {
            std::string line = in_.substr(0, nl);
            in_.erase(0, nl + 1);
            return line;
        }
        scanned = in_.size();
        if (in_.size() > pmi_line_max)
            return fail(EMSGSIZE, "PMI response line too long");
        char buf[4096];
        ssize_t n = ::read(fd_, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (auto r = wait_fd(fd_, POLLIN); !r)
                    return std::unexpected(r.error());
                continue;
            }
            return fail(errno, errno_text("PMI read failed"));
        }
        if (n == 0)
            return fail(ECONNRESET, "PMI server closed the connection");
        in_.append(buf, static_cast<std::size_t>(n));
    }
}

Result<PmiMessage> PmiClient::request(std::string_view line, std::string_view expect_cmd)
{
    if (fd_ < 0)
        return fail(EBADF, "PMI client has no connection");
    std::string out(line);
    out += '\n';
    if (auto r = write_all(out); !r)
        return std::unexpected(r.error());
    auto response = read_line();
    if (!response)
        return std::unexpected(response.error());
    auto msg = PmiMessage::parse(*response);
    if (!msg)
        return msg;
    if (msg->get("cmd") != expect_cmd)
        return fail(EPROTO, "PMI server sent an unexpected response to "
                                + std::string(line.substr(0, line.find(' '))));
    return msg;
}

Result<void> PmiClient::init()
{
    auto resp = request("cmd=init pmi_version=1 pmi_subversion=1", "response_to_init");
    if (!resp)
        return std::unexpected(resp.error());
    if (resp->get_int("rc").value_or(0) != 0 || resp->get_int("pmi_version") != 1)
        return fail(EPROTO, "PMI server does not speak PMI 1.1");

    auto maxes = request("cmd=get_maxes", "maxes");
    if (!maxes)
        return std::unexpected(maxes.error());
    auto keylen = maxes->get_int("keylen_max");
    auto vallen = maxes->get_int("vallen_max");
    if (maxes->get_int("rc").value_or(0) != 0 || !keylen || !vallen || *keylen < 2
        || *vallen < 1)
        return fail(EPROTO, "PMI server sent invalid maxes");
    keylen_max_ = *keylen;
    vallen_max_ = *vallen;

    auto name = request("cmd=get_my_kvsname", "my_kvsname");
    if (!name)
        return std::unexpected(name.error());
    auto kvsname = name->get("kvsname");
    if (name->get_int("rc").value_or(0) != 0 || !kvsname || kvsname->empty()
        || !pmi_is_word(*kvsname))
        return fail(EPROTO, "PMI server sent an invalid kvsname");
    kvsname_ = std::string(*kvsname);
    return {};
}

Result<int> PmiClient::universe_size()
{
    if (auto r = require_init(); !r)
        return std::unexpected(r.error());
    auto resp = request("cmd=get_universe_size", "universe_size");
    if (!resp)
        return std::unexpected(resp.error());
    auto n = resp->get_int("size");
    if (resp->get_int("rc").value_or(0) != 0 || !n)
        return fail(EIO, "PMI server did not report the universe size");
    return *n;
}

Result<int> PmiClient::appnum()
{
    if (auto r = require_init(); !r)
        return std::unexpected(r.error());
    auto resp = request("cmd=get_appnum", "appnum");
    if (!resp)
        return std::unexpected(resp.error());
    auto n = resp->get_int("appnum");
    if (resp->get_int("rc").value_or(0) != 0 || !n)
        return fail(EIO, "PMI server did not report the appnum");
    return *n;
}

Result<void> PmiClient::put(std::string_view key, std::string_view value)
{
    if (auto r = require_init(); !r)
        return r;
    if (key.empty() || !pmi_is_word(key) || key.find('=') != std::string_view::npos
        || key.size() >= static_cast<std::size_t>(keylen_max_))
        return fail(EINVAL, "invalid PMI key");
    if (!pmi_is_word(value) || value.size() >= static_cast<std::size_t>(vallen_max_))
        return fail(EINVAL, "invalid PMI value");
    std::string line = "cmd=put kvsname=" + kvsname_ + " key=";
    line += key;
    line += " value=";
    line += value;
    auto resp = request(line, "put_result");
    if (!resp)
        return std::unexpected(resp.error());
    if (resp->get_int("rc").value_or(0) != 0)
        return fail(EIO, "PMI put failed: " + std::string(resp->get("msg").value_or("")));
    return {};
}

Result<std::string> PmiClient::get(std::string_view key)
{
    if (auto r = require_init(); !r)
        return std::unexpected(r.error());
    if (key.empty() || !pmi_is_word(key) || key.find('=') != std::string_view::npos
        || key.size() >= static_cast<std::size_t>(keylen_max_))
        return fail(EINVAL, "invalid PMI key");
    std::string line = "cmd=get kvsname=" + kvsname_ + " key=";
    line += key;
    auto resp = request(line, "get_result");
    if (!resp)
        return std::unexpected(resp.error());
    if (resp->get_int("rc").value_or(0) != 0)
        return fail(ENOENT, "PMI key not found: " + std::string(key));
    auto value = resp->get("value");
    if (!value)
        return fail(EPROTO, "PMI get response has no value");
    return std::string(*value);
}

Result<void> PmiClient::barrier()
{
    if (auto r = require_init(); !r)
        return r;
    auto resp = request("cmd=barrier_in", "barrier_out");
    if (!resp)
        return std::unexpected(resp.error());
    if (resp->get_int("rc").value_or(0) != 0)
        return fail(EIO, "PMI barrier failed");
    return {};
}

Result<void> PmiClient::finalize()
{
    if (auto r = require_init(); !r)
        return r;
    auto resp = request("cmd=finalize", "finalize_ack");
    if (!resp)
        return std::unexpected(resp.error());
    if (resp->get_int("rc").value_or(0) != 0)
        return fail(EIO, "PMI finalize failed");
    return {};
}

Result<void> PmiClient::abort(int exit_code, std::string_view message)
{
    if (fd_ < 0)
        return fail(EBADF, "PMI client has no connection");
    std::string line = "cmd=abort exitcode=" + std::to_string(exit_code) + " msg=";
    for (char c : message.substr(0, pmi_line_max / 2))
        line += (c == '\n' || c == '\r') ? ' ' : c;
    line += '\n';
    return write_all(line);
}

}  // namespace flux
