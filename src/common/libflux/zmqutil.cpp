// ZeroMQ send/receive of Flux messages.
#include "zmqutil.hpp"

#include <flux/handle.hpp>
#include <flux/reactor.hpp>

#include <zmq.h>

namespace flux::zmqutil {

void touch(void* sock)
{
    Reactor::touch(sock);
}

Result<void> send(void* sock, const Message& m, const std::string* identity)
{
    touch(sock);
    auto frames = encode_frames(m);
    if (identity) {
        if (zmq_send(sock, identity->data(), identity->size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return fail(errno, zmq_strerror(errno));
    }
    for (size_t i = 0; i < frames.size(); i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
        if (zmq_send(sock, frames[i].data(), frames[i].size(), flags) < 0)
            return fail(errno, zmq_strerror(errno));
    }
    return {};
}

Result<std::optional<Frames>> recv_frames(void* sock)
{
    touch(sock);
    Frames frames;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        int flags = frames.empty() ? ZMQ_DONTWAIT : 0;
        if (zmq_msg_recv(&part, sock, flags) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            if (e == EAGAIN && frames.empty())
                return std::optional<Frames>();
            return fail(e, zmq_strerror(e));
        }
        frames.emplace_back(static_cast<const char*>(zmq_msg_data(&part)), zmq_msg_size(&part));
        bool more = zmq_msg_more(&part);
        zmq_msg_close(&part);
        if (!more)
            break;
    }
    return std::optional<Frames>(std::move(frames));
}

Result<Message> decode(const Frames& frames, size_t skip)
{
    std::vector<std::string_view> views;
    views.reserve(frames.size());
    for (size_t i = skip; i < frames.size(); i++)
        views.emplace_back(frames[i]);
    return decode_frames(views);
}

}  // namespace flux::zmqutil

namespace flux {

namespace {

bool zmq_readable(void* sock)
{
    int events = 0;
    size_t len = sizeof(events);
    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

class ZmqConnector : public Connector {
public:
    explicit ZmqConnector(void* sock) : sock_(sock) {}
    // Default linger: the last messages (a module's exit status) must reach
    // the broker, which always reads its end before closing it.
    ~ZmqConnector() override { zmq_close(sock_); }

    Result<void> send(const Message& msg) override { return zmqutil::send(sock_, msg); }

    Result<std::optional<Message>> recv() override
    {
        for (;;) {
            auto f = zmqutil::recv_frames(sock_);
            if (!f)
                return fail(ECONNRESET, "zmq recv: " + f.error().message());
            if (!*f)
                return std::optional<Message>();
            auto m = zmqutil::decode(**f);
            if (m)
                return std::optional<Message>(std::move(*m));
            // malformed: drop and keep reading
        }
    }

    WatcherPtr watch(Reactor& r, std::function<void()> ready) override { return r.zmq(sock_, std::move(ready)); }

private:
    void* sock_;
};

}  // namespace

// A socket's ZMQ_FD only signals edges; ZMQ_EVENTS says whether a message
// is really waiting.
WatcherPtr Reactor::zmq(void* socket, std::function<void()> cb)
{
    int zfd = -1;
    size_t len = sizeof(zfd);
    zmq_getsockopt(socket, ZMQ_FD, &zfd, &len);
    return edge(zfd, socket, zmq_readable, std::move(cb));
}

std::unique_ptr<Connector> connector_from_zmq(void* zsock)
{
    return std::make_unique<ZmqConnector>(zsock);
}

}  // namespace flux
