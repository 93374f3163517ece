// ZeroMQ send/receive of Flux messages.
#include "zmqutil.hpp"

#include <zmq.h>

namespace flux::zmqutil {

Result<void> send(void* sock, const Message& m, const std::string* identity)
{
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
