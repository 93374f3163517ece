// libFuzzer target: both RFC 3 decoders refuse bad bytes without crashing; what they accept re-encodes unchanged.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <flux/message.hpp>

using namespace flux;

namespace {

bool same(const Message& a, const Message& b)
{
    return a.type == b.type && a.flags == b.flags && a.userid == b.userid && a.rolemask == b.rolemask &&
           a.aux1 == b.aux1 && a.aux2 == b.aux2 && a.topic == b.topic && a.has_payload == b.has_payload &&
           a.payload == b.payload && a.has_route == b.has_route && a.route == b.route;
}

// A decoded message must survive both encodings unchanged.
void check_round_trip(const Message& m)
{
    auto frames = encode_frames(m);
    std::vector<std::string_view> views(frames.begin(), frames.end());
    auto f = decode_frames(views);
    if (!f || !same(m, *f))
        std::abort();

    std::string wire;
    encode_stream(m, wire);
    StreamDecoder d;
    d.feed(wire);
    Message out;
    Error err;
    if (d.next(out, err) != StreamDecoder::Status::message || !same(m, out) || d.buffered() != 0)
        std::abort();
    (void)m.describe();
    (void)m.error_text();
}

// Take messages until the decoder wants more or fails; a bounded loop, so a
// decoder that stops consuming shows up as a hang, not a silent pass.
void drain(StreamDecoder& d)
{
    for (int i = 0; i < 100000; i++) {
        Message m;
        Error err;
        switch (d.next(m, err)) {
            case StreamDecoder::Status::message:
                check_round_trip(m);
                break;
            case StreamDecoder::Status::bad_message:
                if (err.errnum != EPROTO)
                    std::abort();
                break;
            case StreamDecoder::Status::need_more:
                return;
            case StreamDecoder::Status::error:
                if (err.errnum != EPROTO)
                    std::abort();
                return;
        }
    }
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view in(reinterpret_cast<const char*>(data), size);

    // 1. The byte stream after the first byte, which says where to cut it
    // in two, fed one after the other (the second after the first was
    // drained, so the buffer is compacted in between).
    std::string_view stream = size > 0 ? in.substr(1) : in;
    size_t split = size > 0 ? data[0] % (stream.size() + 1) : 0;
    StreamDecoder d;
    d.feed(stream.substr(0, split));
    drain(d);
    std::string_view rest = stream.substr(split);
    d.feed(rest);
    drain(d);

    // 2. The same bytes as frames: each is a 1-byte length then that many
    // bytes (cut short at the end of input).
    std::vector<std::string_view> frames;
    size_t off = 0;
    while (off < size && frames.size() < 64) {
        size_t len = data[off++];
        len = std::min(len, size - off);
        frames.push_back(in.substr(off, len));
        off += len;
    }
    auto m = decode_frames(frames);
    if (m)
        check_round_trip(*m);
    else if (m.error().errnum != EPROTO)
        std::abort();
    return 0;
}
