// Sending and receiving Flux messages on ZeroMQ sockets (internal).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <flux/error.hpp>
#include <flux/message.hpp>

namespace flux::zmqutil {

/// Send `m` as one multipart message, first prefixed with `identity` when
/// given (a ROUTER socket's peer address). Never blocks: EAGAIN or
/// EHOSTUNREACH (ROUTER_MANDATORY) come back as errors.
Result<void> send(void* sock, const Message& m, const std::string* identity = nullptr);

/// One received multipart message, frames in order.
using Frames = std::vector<std::string>;

/// Receive one multipart message without blocking: std::nullopt when none
/// is waiting.
Result<std::optional<Frames>> recv_frames(void* sock);

/// Decode frames[skip..] as a message.
Result<Message> decode(const Frames& frames, size_t skip = 0);

/// Note that `sock` was used on this thread. Any operation on a ZeroMQ
/// socket may consume the edge its ZMQ_FD would have signaled, so the
/// reactor re-checks the readiness of sockets used since its last look
/// (send and recv_frames call this; call it after other operations).
void touch(void* sock);

}  // namespace flux::zmqutil
