// Local connector server: accept, authenticate by SO_PEERCRED, frame messages.
#include "local_server.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "broker.hpp"

namespace flux::broker {

class LocalServer::Client : public Peer {
public:
    Client(LocalServer& s, uint64_t cid, int fd, uint32_t uid, uint32_t roles)
        : Peer(Kind::client, fmt::format("c{}", cid)), server_(s), cid_(cid), fd_(fd)
    {
        userid = uid;
        rolemask = roles;
        w_ = s.broker_.reactor().fd(fd_, EPOLLIN, [this](uint32_t ev) { on_event(ev); });
    }
    ~Client() override
    {
        w_.reset();
        close(fd_);
    }

    void send(Message&& m) override
    {
        bool was_empty = out_.size() == out_pos_;
        encode_stream(m, out_);
        if (was_empty)
            flush();
    }

private:
    void flush()
    {
        while (out_pos_ < out_.size()) {
            ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                out_pos_ += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                if (!want_out_) {
                    want_out_ = true;
                    w_ = server_.broker_.reactor().fd(fd_, EPOLLIN | EPOLLOUT, [this](uint32_t ev) { on_event(ev); });
                }
                return;
            }
            dead_ = true;  // peer gone; reading will notice EOF
            out_.clear();
            out_pos_ = 0;
            return;
        }
        out_.clear();
        out_pos_ = 0;
        if (want_out_) {
            want_out_ = false;
            w_ = server_.broker_.reactor().fd(fd_, EPOLLIN, [this](uint32_t ev) { on_event(ev); });
        }
    }

    void on_event(uint32_t ev)
    {
        if (ev & EPOLLOUT)
            flush();
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
            on_read();
    }

    /// Bounded batch so one busy client cannot starve the others (`rounds`
    /// of up to 64 KiB each); unbounded when draining a dead client.
    void on_read(int rounds = 16)
    {
        for (int round = 0; rounds < 0 || round < rounds; round++) {
            ssize_t n = dec_.recv_from(fd_);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                drain();
                server_.close_client(cid_);  // destroys this
                return;
            }
            if (n < 0)
                break;
            server_.broker_.reactor().note_activity();  // see broker.poll-spin-us
            if (!drain())
                return;
            if (static_cast<size_t>(n) < 65536 && rounds >= 0)
                break;
        }
    }

    friend class LocalServer;

    // Decode and route everything buffered; false if this client was closed.
    bool drain()
    {
        for (;;) {
            Message m;
            Error err;
            auto st = dec_.next(m, err);
            if (st == StreamDecoder::Status::need_more)
                return true;
            if (st == StreamDecoder::Status::bad_message) {
                bad_++;
                continue;
            }
            if (st == StreamDecoder::Status::error) {
                server_.broker_.log(4, fmt::format("local: closing client {} (uid {}): {}", id, userid, err.text));
                server_.close_client(cid_);
                return false;
            }
            // The connector, not the client, decides who is speaking.
            m.userid = userid;
            m.rolemask = rolemask;
            if (m.is_request() || m.is_response())
                server_.broker_.receive(*this, std::move(m));
            else
                bad_++;
        }
    }

    LocalServer& server_;
    uint64_t cid_;
    int fd_;
    WatcherPtr w_;
    StreamDecoder dec_;
    std::string out_;
    size_t out_pos_ = 0;
    bool want_out_ = false;
    bool dead_ = false;
    size_t bad_ = 0;
};

LocalServer::LocalServer(Broker& b, std::string path, bool allow_guests)
    : broker_(b), path_(std::move(path)), allow_guests_(allow_guests)
{
}

LocalServer::~LocalServer()
{
    w_.reset();
    // Remove peers first so nothing routes to a dead client.
    for (auto& [id, c] : clients_)
        broker_.remove_peer(*c);
    clients_.clear();
    if (fd_ >= 0) {
        close(fd_);
        unlink(path_.c_str());
    }
}

Result<void> LocalServer::listen()
{
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path))
        return fail(ENAMETOOLONG, "local socket path too long: " + path_);
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0)
        return fail(errno, fmt::format("socket: {}", strerror(errno)));
    unlink(path_.c_str());
    if (bind(fd_, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0)
        return fail(errno, fmt::format("cannot bind {}: {}", path_, strerror(errno)));
    if (::listen(fd_, 1024) < 0)
        return fail(errno, fmt::format("listen {}: {}", path_, strerror(errno)));
    if (allow_guests_) {
        chmod(path_.c_str(), 0777);
        std::string dir = path_.substr(0, path_.rfind('/'));
        chmod(dir.c_str(), 0755);
    }
    w_ = broker_.reactor().fd(fd_, EPOLLIN, [this](uint32_t) { on_accept(); });
    return {};
}

void LocalServer::on_accept()
{
    for (;;) {
        int cfd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
            return;
        struct ucred cred = {};
        socklen_t len = sizeof(cred);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            close(cfd);
            continue;
        }
        uint32_t roles;
        if (cred.uid == broker_.owner())
            roles = role::owner | role::local;
        else if (allow_guests_)
            roles = role::user | role::local;
        else
            roles = role::none;
        unsigned char status = roles == role::none ? EPERM : 0;
        if (::send(cfd, &status, 1, MSG_NOSIGNAL) != 1 || status != 0) {
            close(cfd);
            continue;
        }
        add_client(cfd, cred.uid, roles);
    }
}

uint64_t LocalServer::adopt(int fd)
{
    return add_client(fd, broker_.owner(), role::owner | role::local);
}

void LocalServer::read_all(uint64_t id)
{
    if (auto it = clients_.find(id); it != clients_.end())
        it->second->on_read(-1);
}

uint64_t LocalServer::add_client(int fd, uint32_t uid, uint32_t roles)
{
    uint64_t id = next_id_++;
    auto c = std::make_unique<Client>(*this, id, fd, uid, roles);
    broker_.add_peer(*c);
    clients_.emplace(id, std::move(c));
    return id;
}

void LocalServer::close_client(uint64_t id)
{
    auto it = clients_.find(id);
    if (it == clients_.end())
        return;
    broker_.remove_peer(*it->second);
    // Defer destruction: we may be inside the client's own callback.
    auto doomed = std::shared_ptr<Client>(it->second.release());
    clients_.erase(it);
    broker_.reactor().defer([doomed] {});
}

}  // namespace flux::broker
