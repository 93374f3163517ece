// The local connector (UNIX socket, RFC 3 stream framing). The ZeroMQ PAIR
// connector is in zmqutil.cpp, so that clients do not load libzmq.
#include <flux/handle.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace flux {

namespace {

class LocalConnector : public Connector {
public:
    explicit LocalConnector(int fd) : fd_(fd) {}
    ~LocalConnector() override { close(fd_); }

    Result<void> send(const Message& msg) override
    {
        out_.clear();
        encode_stream(msg, out_);
        size_t off = 0;
        while (off < out_.size()) {
            ssize_t n = ::send(fd_, out_.data() + off, out_.size() - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                // The broker always reads; wait for room, but keep taking
                // what it sends us so neither side can fill up and stall.
                struct pollfd pfd = {fd_, POLLOUT | POLLIN, 0};
                if (poll(&pfd, 1, -1) > 0 && (pfd.revents & POLLIN) && !eof_)
                    fill();
                continue;
            }
            return fail(errno == EPIPE ? ECONNRESET : errno, "send to broker: " + std::string(strerror(errno)));
        }
        return {};
    }

    bool has_buffered() const override { return dec_.buffered() > 0; }

    Result<std::optional<Message>> recv() override
    {
        for (;;) {
            Message m;
            Error err;
            auto st = dec_.next(m, err);
            if (st == StreamDecoder::Status::message)
                return std::optional<Message>(std::move(m));
            if (st == StreamDecoder::Status::bad_message)
                continue;
            if (st == StreamDecoder::Status::error)
                return std::unexpected(Error(EPROTO, err.text));
            if (eof_)
                return fail(ECONNRESET, "broker closed the connection");
            if (!fill())
                return std::optional<Message>();
        }
    }

    WatcherPtr watch(Reactor& r, std::function<void()> ready) override
    {
        return r.fd(fd_, EPOLLIN, [ready = std::move(ready)](uint32_t) { ready(); });
    }

private:
    // Read what is available into the decoder; false when nothing was read.
    bool fill()
    {
        ssize_t n = dec_.recv_from(fd_);
        if (n > 0)
            return true;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            eof_ = true;
            return true;
        }
        return false;
    }

    int fd_;
    StreamDecoder dec_;
    std::string out_;
    bool eof_ = false;
};

}  // namespace

Result<std::unique_ptr<Connector>> connect_local(const std::string& path)
{
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        return fail(ENAMETOOLONG, "socket path too long: " + path);
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(errno, "socket: " + std::string(strerror(errno)));
    if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0) {
        int e = errno;
        close(fd);
        return fail(e, "cannot connect to " + path + ": " + strerror(e));
    }
    // RFC 3: the broker answers with one byte, 0 = allowed, else an errno.
    struct pollfd pfd = {fd, POLLIN, 0};
    unsigned char b = 0;
    int pr;
    while ((pr = poll(&pfd, 1, 10000)) < 0 && errno == EINTR) {
    }
    ssize_t n = pr > 0 ? ::recv(fd, &b, 1, 0) : -1;
    if (n != 1) {
        close(fd);
        return fail(ECONNREFUSED, "no greeting from broker at " + path);
    }
    if (b != 0) {
        close(fd);
        return fail(b, "broker refused connection: " + std::string(strerror(b)));
    }
    return std::unique_ptr<Connector>(std::make_unique<LocalConnector>(fd));
}

std::unique_ptr<Connector> connector_from_fd(int fd)
{
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return std::make_unique<LocalConnector>(fd);
}

}  // namespace flux
