// Flux message value type and its ZeroMQ-frame and byte-stream codecs (RFC 3).
#include <flux/message.hpp>

#include <sys/socket.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace flux {

namespace {

constexpr uint8_t PROTO_MAGIC = 0x8e;
constexpr uint8_t PROTO_VERSION = 0x01;
constexpr size_t PROTO_SIZE = 20;
constexpr unsigned char STREAM_MAGIC[4] = {0xff, 0xee, 0x00, 0x12};

void put_u32(char* p, uint32_t v)
{
    p[0] = static_cast<char>(v >> 24);
    p[1] = static_cast<char>(v >> 16);
    p[2] = static_cast<char>(v >> 8);
    p[3] = static_cast<char>(v);
}

uint32_t get_u32(const char* p)
{
    auto b = reinterpret_cast<const unsigned char*>(p);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

bool valid_type(uint8_t t)
{
    return t == 0x01 || t == 0x02 || t == 0x04 || t == 0x08;
}

uint8_t wire_flags(const Message& m)
{
    uint8_t f = m.flags & ~(msgflag::topic | msgflag::payload | msgflag::route);
    if (!m.topic.empty())
        f |= msgflag::topic;
    if (m.has_payload)
        f |= msgflag::payload;
    if (m.has_route || !m.route.empty())
        f |= msgflag::route;
    return f;
}

std::string encode_proto(const Message& m)
{
    std::string p(PROTO_SIZE, '\0');
    p[0] = static_cast<char>(PROTO_MAGIC);
    p[1] = static_cast<char>(PROTO_VERSION);
    p[2] = static_cast<char>(m.type);
    p[3] = static_cast<char>(wire_flags(m));
    put_u32(&p[4], m.userid);
    put_u32(&p[8], m.rolemask);
    put_u32(&p[12], m.aux1);
    put_u32(&p[16], m.aux2);
    return p;
}

// Payload on the wire carries a trailing NUL (RFC 3 string/JSON convention).
std::string wire_payload(const Message& m)
{
    std::string p;
    p.reserve(m.payload.size() + 1);
    p.append(m.payload);
    p.push_back('\0');
    return p;
}

void append_part(std::string& out, std::string_view data)
{
    if (data.size() < 255) {
        out.push_back(static_cast<char>(data.size()));
    } else {
        out.push_back(static_cast<char>(255));
        char len[4];
        put_u32(len, static_cast<uint32_t>(data.size()));
        out.append(len, 4);
    }
    out.append(data);
}

Error proto_error(std::string what)
{
    return Error(EPROTO, "malformed message: " + std::move(what));
}

}  // namespace

const char* msgtype_name(MsgType t)
{
    switch (t) {
        case MsgType::request:
            return "request";
        case MsgType::response:
            return "response";
        case MsgType::event:
            return "event";
        case MsgType::control:
            return "control";
    }
    return "unknown";
}

Message Message::request(std::string topic, std::string payload, uint32_t nodeid, uint8_t flags)
{
    Message m;
    m.type = MsgType::request;
    m.topic = std::move(topic);
    m.aux1 = nodeid;
    m.flags = flags;
    if (!payload.empty())
        m.set_payload(std::move(payload));
    return m;
}

Message Message::event(std::string topic, std::string payload)
{
    Message m;
    m.type = MsgType::event;
    m.topic = std::move(topic);
    m.aux1 = 0;
    if (!payload.empty())
        m.set_payload(std::move(payload));
    return m;
}

Message Message::control(uint32_t type, uint32_t status)
{
    Message m;
    m.type = MsgType::control;
    m.aux1 = type;
    m.aux2 = status;
    return m;
}

Message Message::without_payload() const
{
    Message m;
    m.type = type;
    m.flags = flags;
    m.userid = userid;
    m.rolemask = rolemask;
    m.aux1 = aux1;
    m.aux2 = aux2;
    m.topic = topic;
    m.has_route = has_route;
    m.route = route;
    return m;
}

Message Message::response_to(const Message& req, std::string payload)
{
    Message m;
    m.type = MsgType::response;
    m.flags = req.flags & msgflag::streaming;
    m.topic = req.topic;
    m.aux1 = 0;
    m.aux2 = req.aux2;
    m.route = req.route;
    m.has_route = req.has_route;
    if (!payload.empty())
        m.set_payload(std::move(payload));
    return m;
}

Message Message::error_to(const Message& req, int errnum, std::string text)
{
    Message m = response_to(req);
    m.aux1 = static_cast<uint32_t>(errnum != 0 ? errnum : EINVAL);
    if (!text.empty())
        m.set_payload(std::move(text));
    return m;
}

std::string_view Message::service() const
{
    std::string_view t(topic);
    auto dot = t.find('.');
    return dot == std::string_view::npos ? t : t.substr(0, dot);
}

std::string Message::route_string() const
{
    std::string s;
    for (const auto& hop : route) {
        if (!s.empty())
            s.push_back('!');
        s.append(hop);
    }
    return s;
}

std::string Message::error_text() const
{
    if (has_payload && !payload.empty())
        return payload;
    return std::strerror(static_cast<int>(aux1));
}

std::string Message::describe() const
{
    std::string s = fmt::format("{} topic={}", msgtype_name(type), topic);
    switch (type) {
        case MsgType::request:
            s += aux1 == NODEID_ANY ? std::string(" nodeid=any") : fmt::format(" nodeid={}", aux1);
            s += fmt::format(" matchtag={}", aux2);
            break;
        case MsgType::response:
            s += fmt::format(" errnum={} matchtag={}", aux1, aux2);
            break;
        case MsgType::event:
            s += fmt::format(" seq={}", aux1);
            break;
        case MsgType::control:
            s += fmt::format(" type={} status={}", aux1, aux2);
            break;
    }
    if (!route.empty())
        s += " route=" + route_string();
    return s;
}

std::vector<std::string> encode_frames(const Message& msg)
{
    std::vector<std::string> frames;
    frames.reserve(msg.route.size() + 4);
    if (msg.has_route || !msg.route.empty()) {
        for (auto it = msg.route.rbegin(); it != msg.route.rend(); ++it)
            frames.push_back(*it);
        frames.emplace_back();
    }
    if (!msg.topic.empty())
        frames.push_back(msg.topic);
    if (msg.has_payload)
        frames.push_back(wire_payload(msg));
    frames.push_back(encode_proto(msg));
    return frames;
}

Result<Message> decode_frames(std::span<const std::string_view> frames)
{
    if (frames.empty())
        return std::unexpected(proto_error("no frames"));
    std::string_view proto = frames.back();
    if (proto.size() != PROTO_SIZE)
        return std::unexpected(proto_error(fmt::format("PROTO frame is {} bytes, not {}", proto.size(), PROTO_SIZE)));
    if (static_cast<uint8_t>(proto[0]) != PROTO_MAGIC)
        return std::unexpected(proto_error("bad magic"));
    if (static_cast<uint8_t>(proto[1]) != PROTO_VERSION)
        return std::unexpected(proto_error(fmt::format("unsupported version {}", static_cast<uint8_t>(proto[1]))));
    uint8_t type = static_cast<uint8_t>(proto[2]);
    if (!valid_type(type))
        return std::unexpected(proto_error(fmt::format("unknown type {:#x}", type)));
    Message m;
    m.type = static_cast<MsgType>(type);
    uint8_t flags = static_cast<uint8_t>(proto[3]);
    m.flags = flags & ~(msgflag::topic | msgflag::payload | msgflag::route);
    m.userid = get_u32(proto.data() + 4);
    m.rolemask = get_u32(proto.data() + 8);
    m.aux1 = get_u32(proto.data() + 12);
    m.aux2 = get_u32(proto.data() + 16);

    size_t n = frames.size() - 1;  // frames before PROTO
    size_t i = 0;
    if (flags & msgflag::route) {
        size_t delim = 0;
        while (delim < n && !frames[delim].empty())
            delim++;
        if (delim == n)
            return std::unexpected(proto_error("route flag set but no route delimiter"));
        m.has_route = true;
        m.route.reserve(delim);
        for (size_t k = delim; k-- > 0;)
            m.route.emplace_back(frames[k]);
        i = delim + 1;
    }
    if (flags & msgflag::topic) {
        if (i >= n)
            return std::unexpected(proto_error("topic flag set but no topic frame"));
        if (frames[i].empty())
            return std::unexpected(proto_error("empty topic"));
        m.topic.assign(frames[i]);
        i++;
    }
    if (flags & msgflag::payload) {
        if (i >= n)
            return std::unexpected(proto_error("payload flag set but no payload frame"));
        std::string_view p = frames[i];
        if (!p.empty() && p.back() == '\0')
            p.remove_suffix(1);
        m.payload.assign(p);
        m.has_payload = true;
        i++;
    }
    if (i != n)
        return std::unexpected(proto_error(fmt::format("{} unexpected frame(s)", n - i)));
    if (m.type != MsgType::control && m.topic.empty())
        return std::unexpected(proto_error(fmt::format("{} without topic", msgtype_name(m.type))));
    return m;
}

void encode_stream(const Message& msg, std::string& out)
{
    size_t start = out.size();
    out.append(reinterpret_cast<const char*>(STREAM_MAGIC), 4);
    out.append(4, '\0');  // length, filled in below
    if (msg.has_route || !msg.route.empty()) {
        for (auto it = msg.route.rbegin(); it != msg.route.rend(); ++it)
            append_part(out, *it);
        append_part(out, {});
    }
    if (!msg.topic.empty())
        append_part(out, msg.topic);
    if (msg.has_payload) {
        // Payload plus trailing NUL without building a temporary.
        size_t len = msg.payload.size() + 1;
        if (len < 255) {
            out.push_back(static_cast<char>(len));
        } else {
            out.push_back(static_cast<char>(255));
            char b[4];
            put_u32(b, static_cast<uint32_t>(len));
            out.append(b, 4);
        }
        out.append(msg.payload);
        out.push_back('\0');
    }
    append_part(out, encode_proto(msg));
    put_u32(&out[start + 4], static_cast<uint32_t>(out.size() - start - 8));
}

void StreamDecoder::compact()
{
    if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    } else if (pos_ > 65536 && pos_ > buf_.size() / 2) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
}

void StreamDecoder::feed(std::string_view bytes)
{
    compact();
    buf_.append(bytes);
}

ssize_t StreamDecoder::recv_from(int fd)
{
    static thread_local std::unique_ptr<char[]> scratch(new char[65536]);
    ssize_t n = ::recv(fd, scratch.get(), 65536, MSG_DONTWAIT);
    if (n > 0)
        feed(std::string_view(scratch.get(), static_cast<size_t>(n)));
    return n;
}

StreamDecoder::Status StreamDecoder::next(Message& out, Error& err)
{
    size_t avail = buf_.size() - pos_;
    if (avail < 8)
        return Status::need_more;
    const char* p = buf_.data() + pos_;
    if (std::memcmp(p, STREAM_MAGIC, 4) != 0) {
        err = proto_error("bad stream magic");
        return Status::error;
    }
    uint32_t len = get_u32(p + 4);
    if (len > MAX_MESSAGE_SIZE) {
        err = proto_error(fmt::format("message length {} exceeds limit", len));
        return Status::error;
    }
    if (avail - 8 < len)
        return Status::need_more;
    // Split into frames (views into the buffer).
    std::string_view body(p + 8, len);
    std::vector<std::string_view> frames;
    frames.reserve(4);
    size_t off = 0;
    while (off < body.size()) {
        size_t sz = static_cast<unsigned char>(body[off]);
        off++;
        if (sz == 255) {
            if (body.size() - off < 4) {
                err = proto_error("truncated long part size");
                return Status::error;
            }
            sz = get_u32(body.data() + off);
            off += 4;
        }
        if (body.size() - off < sz) {
            err = proto_error("part overruns message");
            return Status::error;
        }
        frames.push_back(body.substr(off, sz));
        off += sz;
    }
    auto m = decode_frames(frames);
    pos_ += 8 + len;
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    if (!m) {
        err = m.error();
        return Status::bad_message;
    }
    out = std::move(*m);
    return Status::message;
}

}  // namespace flux
