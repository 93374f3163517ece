// Flux messages (RFC 3): the value type and its two wire encodings.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <flux/error.hpp>

namespace flux {

enum class MsgType : uint8_t { request = 0x01, response = 0x02, event = 0x04, control = 0x08 };

/// Flag bits of RFC 3. `topic`, `payload` and `route` are derived from the
/// message contents at encode time; the rest are carried as set.
namespace msgflag {
inline constexpr uint8_t topic = 0x01;
inline constexpr uint8_t payload = 0x02;
inline constexpr uint8_t noresponse = 0x04;
inline constexpr uint8_t route = 0x08;
inline constexpr uint8_t upstream = 0x10;
inline constexpr uint8_t private_ = 0x20;
inline constexpr uint8_t streaming = 0x40;
inline constexpr uint8_t user1 = 0x80;
}  // namespace msgflag

inline constexpr uint32_t NODEID_ANY = 0xFFFFFFFFu;
inline constexpr uint32_t NODEID_UPSTREAM = 0xFFFFFFFEu;
inline constexpr uint32_t USERID_UNKNOWN = 0xFFFFFFFFu;
inline constexpr uint32_t MATCHTAG_NONE = 0;

/// RFC 12 roles.
namespace role {
inline constexpr uint32_t none = 0;
inline constexpr uint32_t owner = 1;
inline constexpr uint32_t user = 2;
inline constexpr uint32_t local = 4;
inline constexpr uint32_t all = 0xFFFFFFFFu;
}  // namespace role

/// Largest encoded message accepted from a peer (bytes).
inline constexpr size_t MAX_MESSAGE_SIZE = 256u << 20;

/// A Flux message. Plain value: copyable, movable, no hidden state.
///
/// The meaning of aux1/aux2 depends on the type (RFC 3):
///   request:  aux1 = nodeid,   aux2 = matchtag
///   response: aux1 = errnum,   aux2 = matchtag
///   event:    aux1 = sequence, aux2 = unused
///   control:  aux1 = type,     aux2 = status
/// Payloads are stored without the trailing NUL that the wire carries for
/// string/JSON payloads. The route stack holds hop identities, oldest first
/// (route.back() is the most recent hop).
struct Message {
    MsgType type = MsgType::request;
    uint8_t flags = 0;
    uint32_t userid = USERID_UNKNOWN;
    uint32_t rolemask = role::none;
    uint32_t aux1 = NODEID_ANY;
    uint32_t aux2 = 0;
    std::string topic;
    std::string payload;
    bool has_payload = false;
    bool has_route = false;
    std::vector<std::string> route;

    static Message request(std::string topic, std::string payload = {}, uint32_t nodeid = NODEID_ANY,
                           uint8_t flags = 0);
    static Message event(std::string topic, std::string payload = {});
    static Message control(uint32_t type, uint32_t status);
    /// A response to `req` (same topic, matchtag, route; streaming flag kept).
    static Message response_to(const Message& req, std::string payload = {});
    /// An error response to `req`; `text` becomes the payload (may be empty).
    static Message error_to(const Message& req, int errnum, std::string text = {});
    /// A copy without the payload: what a server keeps of a request it
    /// answers later (response_to and error_to need no more).
    Message without_payload() const;

    uint32_t nodeid() const { return aux1; }
    uint32_t errnum() const { return aux1; }
    uint32_t seq() const { return aux1; }
    uint32_t matchtag() const { return aux2; }
    bool is_request() const { return type == MsgType::request; }
    bool is_response() const { return type == MsgType::response; }
    bool is_event() const { return type == MsgType::event; }
    bool is_control() const { return type == MsgType::control; }
    bool has_flag(uint8_t f) const { return (flags & f) != 0; }
    void set_payload(std::string p)
    {
        payload = std::move(p);
        has_payload = true;
    }

    /// The service name: the topic up to its first '.'.
    std::string_view service() const;
    /// The route as "a!b!c" (oldest first), for diagnostics.
    std::string route_string() const;
    /// The payload as an error message when this is an error response.
    std::string error_text() const;
    /// One-line description for logs: type, topic, nodeid/errnum, flags.
    std::string describe() const;
};

const char* msgtype_name(MsgType t);

// ---- ZeroMQ multipart encoding ------------------------------------------
// Frames in wire order: [routes, newest first] [empty delimiter] [topic]
// [payload] PROTO(20 bytes).

/// Encode into frames (each a byte string).
std::vector<std::string> encode_frames(const Message& msg);
/// Decode frames; any malformed shape yields EPROTO with a description.
Result<Message> decode_frames(std::span<const std::string_view> frames);

// ---- Byte stream encoding (UNIX sockets, RFC 3 framing) -----------------
// magic FF EE 00 12, u32 length, then each frame as size(1 or 1+4) + data.

/// Append the framed encoding of `msg` to `out`.
void encode_stream(const Message& msg, std::string& out);

/// Incremental stream decoder: feed bytes, take whole messages.
class StreamDecoder {
public:
    /// Outcome of next(): a message; "need more bytes"; a well-framed
    /// message whose contents are malformed (skipped: the stream goes on);
    /// or a framing error, after which the stream cannot be resynchronised
    /// (close it).
    enum class Status { message, need_more, bad_message, error };

    void feed(std::string_view bytes);
    /// Try to take the next message from the buffered bytes.
    Status next(Message& out, Error& err);
    size_t buffered() const { return buf_.size() - pos_; }
    /// recv(2) what `fd` has (up to 64 KiB, without blocking) and buffer it:
    /// the count, 0 at end of file, -1 with errno set. The bytes land in a
    /// per-thread scratch area first, so a connection's buffer holds only
    /// what it was sent (no 64 KiB buffer per client to fill and free).
    ssize_t recv_from(int fd);

private:
    void compact();

    std::string buf_;
    size_t pos_ = 0;
};

}  // namespace flux
