// Unit tests for flux::Message: both RFC 3 codecs round-trip every type, and malformed input is refused.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <flux/message.hpp>

using namespace flux;
using namespace std::string_literals;

namespace {

void expect_same(const Message& a, const Message& b)
{
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.flags, b.flags);
    EXPECT_EQ(a.userid, b.userid);
    EXPECT_EQ(a.rolemask, b.rolemask);
    EXPECT_EQ(a.aux1, b.aux1);
    EXPECT_EQ(a.aux2, b.aux2);
    EXPECT_EQ(a.topic, b.topic);
    EXPECT_EQ(a.has_payload, b.has_payload);
    EXPECT_EQ(a.payload, b.payload);
    EXPECT_EQ(a.has_route, b.has_route);
    EXPECT_EQ(a.route, b.route);
}

// One message of every type and shape the codecs must carry unchanged.
std::vector<Message> samples()
{
    std::vector<Message> v;
    Message m = Message::request("svc.method", R"({"a":1})", 3, msgflag::noresponse | msgflag::user1);
    m.aux2 = 42;
    m.userid = 1000;
    m.rolemask = role::owner | role::local;
    v.push_back(m);

    m = Message::request("svc.bin");
    m.set_payload("bin\0\0x\0"s);  // embedded and trailing NULs survive
    m.has_route = true;
    m.route = {"a", "b", "c"};
    m.flags = msgflag::upstream;
    v.push_back(m);

    m = Message::request("svc.noroute");  // route flag, empty stack: delimiter only
    m.has_route = true;
    v.push_back(m);

    Message req = Message::request("kvs.get", {}, 0, msgflag::streaming);
    req.aux2 = 7;
    req.has_route = true;
    req.route = {"x"};
    m = Message::error_to(req, ENOENT, "not found");
    m.userid = 0;
    v.push_back(m);

    m = Message::response_to(req);
    m.set_payload("");  // payload flag with an empty payload
    v.push_back(m);

    m = Message::event("heartbeat.pulse", std::string(300, 'p'));  // long part size in the stream codec
    m.aux1 = 99;
    m.flags = msgflag::private_;
    v.push_back(m);

    m = Message::event("big.event", std::string(70000, 'q'));
    v.push_back(m);

    v.push_back(Message::control(3, 0xdeadbeef));

    m = Message::control(1, 2);
    m.topic = "ctl.topic";
    m.set_payload("ctl");
    v.push_back(m);

    m = Message::request("max.aux");
    m.userid = 0;
    m.rolemask = role::all;
    m.aux1 = 0xFFFFFFFFu;
    m.aux2 = 0xFFFFFFFFu;
    m.flags = msgflag::noresponse | msgflag::upstream | msgflag::private_ | msgflag::streaming | msgflag::user1;
    m.route = {std::string(255, 'r'), std::string(254, 's')};
    m.has_route = true;
    v.push_back(m);
    return v;
}

Result<Message> decode(const std::vector<std::string>& frames)
{
    std::vector<std::string_view> views(frames.begin(), frames.end());
    return decode_frames(views);
}

// Frames for a request "t" with payload "p", PROTO last; tests then break them.
std::vector<std::string> good_frames()
{
    return encode_frames(Message::request("t", "p"));
}

void expect_eproto(const std::vector<std::string>& frames, const char* what)
{
    SCOPED_TRACE(what);
    auto r = decode(frames);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EPROTO);
    EXPECT_FALSE(r.error().text.empty());
}

// The stream header for a body of `len` bytes.
std::string stream_header(uint32_t len)
{
    std::string h = "\xff\xee\x00\x12"s;
    h.push_back(static_cast<char>(len >> 24));
    h.push_back(static_cast<char>(len >> 16));
    h.push_back(static_cast<char>(len >> 8));
    h.push_back(static_cast<char>(len));
    return h;
}

std::vector<Message> drain(StreamDecoder& d, StreamDecoder::Status& last)
{
    std::vector<Message> out;
    Message m;
    Error err;
    while ((last = d.next(m, err)) == StreamDecoder::Status::message)
        out.push_back(m);
    return out;
}

}  // namespace

TEST(MessageFrames, RoundTripEverySample)
{
    for (const auto& m : samples()) {
        SCOPED_TRACE(m.describe());
        auto r = decode(encode_frames(m));
        ASSERT_TRUE(r.has_value()) << r.error().text;
        expect_same(m, *r);
    }
}

TEST(MessageFrames, WireShape)
{
    Message m = Message::request("t", "p");
    m.has_route = true;
    m.route = {"old", "new"};
    auto f = encode_frames(m);
    ASSERT_EQ(f.size(), 6u);
    EXPECT_EQ(f[0], "new");  // newest hop first
    EXPECT_EQ(f[1], "old");
    EXPECT_EQ(f[2], "");
    EXPECT_EQ(f[3], "t");
    EXPECT_EQ(f[4], "p\0"s);  // payload carries its NUL on the wire
    ASSERT_EQ(f[5].size(), 20u);
    EXPECT_EQ(static_cast<uint8_t>(f[5][0]), 0x8e);
    EXPECT_EQ(f[5][1], 1);
    EXPECT_EQ(f[5][2], 0x01);
    EXPECT_EQ(f[5][3], msgflag::topic | msgflag::payload | msgflag::route);
}

TEST(MessageFrames, PayloadWithoutTrailingNulIsAccepted)
{
    auto f = good_frames();
    f[1] = "abc";
    auto r = decode(f);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->has_payload);
    EXPECT_EQ(r->payload, "abc");
    f[1] = "";
    r = decode(f);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->has_payload);
    EXPECT_EQ(r->payload, "");
}

TEST(MessageFrames, DerivedFlagBitsAreIgnoredOnEncode)
{
    Message m = Message::request("t");
    m.flags = msgflag::payload | msgflag::route | msgflag::topic | msgflag::user1;
    auto r = decode(encode_frames(m));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->flags, msgflag::user1);
    EXPECT_FALSE(r->has_payload);
    EXPECT_FALSE(r->has_route);
}

TEST(MessageFrames, RefusesMalformedShapes)
{
    expect_eproto({}, "empty frame list");
    auto f = good_frames();
    f.back().pop_back();
    expect_eproto(f, "PROTO 19 bytes");
    f = good_frames();
    f.back().push_back('\0');
    expect_eproto(f, "PROTO 21 bytes");
    f = good_frames();
    f.back()[0] = 0x00;
    expect_eproto(f, "bad magic");
    f = good_frames();
    f.back()[1] = 2;
    expect_eproto(f, "bad version");
    for (int t : {0x00, 0x03, 0x10, 0x80, 0xff}) {
        f = good_frames();
        f.back()[2] = static_cast<char>(t);
        expect_eproto(f, "unknown type");
    }
    f = good_frames();
    f.back()[3] |= msgflag::route;
    expect_eproto(f, "route flag without delimiter");
    f = good_frames();
    f.insert(f.begin(), "hop");
    f.back()[3] |= msgflag::route;
    expect_eproto(f, "route hops without delimiter");
    f = {good_frames().back()};
    expect_eproto(f, "topic flag without topic");
    f = good_frames();
    f.erase(f.begin() + 1);
    expect_eproto(f, "payload flag without payload");
    f = good_frames();
    f.insert(f.begin() + 1, "extra");
    expect_eproto(f, "extra frame");
    f = good_frames();
    f.insert(f.begin(), "extra");
    expect_eproto(f, "extra leading frame");
    f = good_frames();
    f[0] = "";
    expect_eproto(f, "empty topic frame");
}

TEST(MessageFrames, RefusesTopiclessNonControl)
{
    for (auto type : {MsgType::request, MsgType::response, MsgType::event}) {
        Message m;
        m.type = type;
        expect_eproto(encode_frames(m), msgtype_name(type));
    }
    Message c = Message::control(1, 1);
    EXPECT_TRUE(decode(encode_frames(c)).has_value());
}

TEST(MessageStream, RoundTripEverySample)
{
    for (const auto& m : samples()) {
        SCOPED_TRACE(m.describe());
        std::string wire;
        encode_stream(m, wire);
        StreamDecoder d;
        d.feed(wire);
        Message out;
        Error err;
        ASSERT_EQ(d.next(out, err), StreamDecoder::Status::message) << err.text;
        expect_same(m, out);
        EXPECT_EQ(d.buffered(), 0u);
        EXPECT_EQ(d.next(out, err), StreamDecoder::Status::need_more);
    }
}

TEST(MessageStream, WireShape)
{
    std::string wire;
    encode_stream(Message::control(1, 2), wire);
    ASSERT_EQ(wire.size(), 8u + 1 + 20);
    EXPECT_EQ(wire.substr(0, 8), stream_header(21));
    EXPECT_EQ(wire[8], 20);
    wire.clear();
    encode_stream(Message::event("e", std::string(300, 'x')), wire);
    // topic part, then payload part with a long size: 0xff + u32 (301 with NUL)
    EXPECT_EQ(wire.substr(8, 2),
              "\x01"
              "e");
    EXPECT_EQ(wire.substr(10, 5), "\xff\x00\x00\x01\x2d"s);
}

TEST(MessageStream, BadMagicIsFatal)
{
    std::string wire;
    encode_stream(Message::request("t"), wire);
    wire[1] = 'X';
    StreamDecoder d;
    d.feed(wire);
    Message m;
    Error err;
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::error);
    EXPECT_EQ(err.errnum, EPROTO);
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::error);  // no resync
}

TEST(MessageStream, LengthOverLimitIsFatal)
{
    StreamDecoder d;
    d.feed(stream_header(static_cast<uint32_t>(MAX_MESSAGE_SIZE + 1)));
    Message m;
    Error err;
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::error);
    EXPECT_EQ(err.errnum, EPROTO);

    StreamDecoder d2;  // the limit itself is only "need more"
    d2.feed(stream_header(static_cast<uint32_t>(MAX_MESSAGE_SIZE)));
    EXPECT_EQ(d2.next(m, err), StreamDecoder::Status::need_more);
    StreamDecoder d3;
    d3.feed(stream_header(0xFFFFFFFFu));
    EXPECT_EQ(d3.next(m, err), StreamDecoder::Status::error);
}

TEST(MessageStream, BadPartFramingIsFatal)
{
    for (std::string body : {"\xff\x00\x00"s, "\xff"s,
                             "\x05"
                             "ab"s,
                             "\xff\x00\x00\x00\x10xyz"s, "\xff\xff\xff\xff\xffxyz"s}) {
        StreamDecoder d;
        d.feed(stream_header(static_cast<uint32_t>(body.size())) + body);
        Message m;
        Error err;
        EXPECT_EQ(d.next(m, err), StreamDecoder::Status::error);
        EXPECT_EQ(err.errnum, EPROTO);
    }
}

TEST(MessageStream, ShortHeaderNeedsMore)
{
    StreamDecoder d;
    Message m;
    Error err;
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::need_more);
    d.feed("\xff\xee\x00"s);
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::need_more);
    EXPECT_EQ(d.buffered(), 3u);
}

TEST(MessageStream, OneByteAtATime)
{
    auto in = samples();
    std::string wire;
    for (const auto& m : in)
        encode_stream(m, wire);
    StreamDecoder d;
    std::vector<Message> out;
    for (char c : wire) {
        d.feed(std::string_view(&c, 1));
        StreamDecoder::Status st;
        for (auto& m : drain(d, st))
            out.push_back(std::move(m));
        ASSERT_EQ(st, StreamDecoder::Status::need_more);
    }
    ASSERT_EQ(out.size(), in.size());
    for (size_t i = 0; i < in.size(); i++)
        expect_same(in[i], out[i]);
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(MessageStream, SeveralMessagesInOneFeed)
{
    auto in = samples();
    std::string wire;
    for (const auto& m : in)
        encode_stream(m, wire);
    StreamDecoder d;
    d.feed(wire);
    StreamDecoder::Status st;
    auto out = drain(d, st);
    EXPECT_EQ(st, StreamDecoder::Status::need_more);
    ASSERT_EQ(out.size(), in.size());
    for (size_t i = 0; i < in.size(); i++)
        expect_same(in[i], out[i]);
}

TEST(MessageStream, BadMessageIsSkippedAndStreamContinues)
{
    // Well framed, but the PROTO part is short; then an empty body; then a good message.
    std::string wire = stream_header(3) + "\x02xy"s + stream_header(0);
    encode_stream(Message::event("ok.event", "1"), wire);
    StreamDecoder d;
    d.feed(wire);
    Message m;
    Error err;
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::bad_message);
    EXPECT_EQ(err.errnum, EPROTO);
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::bad_message);
    ASSERT_EQ(d.next(m, err), StreamDecoder::Status::message);
    EXPECT_EQ(m.topic, "ok.event");
    EXPECT_EQ(m.payload, "1");
    EXPECT_EQ(d.next(m, err), StreamDecoder::Status::need_more);
}

TEST(MessageStream, ReserveCommitInOddChunks)
{
    // Enough small messages that the decoder compacts its buffer while a
    // partial message is pending.
    std::string wire;
    const int count = 3000;
    for (int i = 0; i < count; i++) {
        Message m = Message::request("svc.n", std::to_string(i));
        m.aux2 = static_cast<uint32_t>(i);
        encode_stream(m, wire);
    }
    // Through a socket, as the local connector reads: recv_from() buffers
    // what one recv(2) returns.
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    StreamDecoder d;
    std::vector<Message> out;
    size_t off = 0;
    while (off < wire.size()) {
        size_t n = std::min<size_t>(997, wire.size() - off);
        ASSERT_EQ(write(sv[0], wire.data() + off, n), static_cast<ssize_t>(n));
        ASSERT_EQ(d.recv_from(sv[1]), static_cast<ssize_t>(n));
        off += n;
        errno = 0;
        EXPECT_EQ(d.recv_from(sv[1]), -1);  // a read that gets nothing
        EXPECT_EQ(errno, EAGAIN);
        StreamDecoder::Status st;
        for (auto& m : drain(d, st))
            out.push_back(std::move(m));
        ASSERT_EQ(st, StreamDecoder::Status::need_more);
    }
    ASSERT_EQ(out.size(), static_cast<size_t>(count));
    for (int i = 0; i < count; i++) {
        EXPECT_EQ(out[static_cast<size_t>(i)].aux2, static_cast<uint32_t>(i));
        EXPECT_EQ(out[static_cast<size_t>(i)].payload, std::to_string(i));
    }
    EXPECT_EQ(d.buffered(), 0u);
    close(sv[0]);
    EXPECT_EQ(d.recv_from(sv[1]), 0);  // end of file
    close(sv[1]);
}

TEST(MessageHelpers, ResponseToKeepsMatchtagRouteAndStreaming)
{
    Message req = Message::request("job.list", "{}", 4, msgflag::streaming | msgflag::noresponse | msgflag::upstream);
    req.aux2 = 1234;
    req.has_route = true;
    req.route = {"r1", "r2"};
    req.userid = 42;
    Message rsp = Message::response_to(req, "data");
    EXPECT_TRUE(rsp.is_response());
    EXPECT_EQ(rsp.topic, "job.list");
    EXPECT_EQ(rsp.matchtag(), 1234u);
    EXPECT_EQ(rsp.errnum(), 0u);
    EXPECT_TRUE(rsp.has_route);
    EXPECT_EQ(rsp.route, req.route);
    EXPECT_EQ(rsp.flags, msgflag::streaming);
    EXPECT_TRUE(rsp.has_payload);
    EXPECT_EQ(rsp.payload, "data");

    Message plain = Message::request("a.b");
    EXPECT_EQ(Message::response_to(plain).flags, 0);
    EXPECT_FALSE(Message::response_to(plain).has_payload);
}

TEST(MessageHelpers, WithoutPayloadAnswersLikeTheRequest)
{
    Message req = Message::request("job-ingest.submit", std::string(4096, 'x'), 3, msgflag::streaming);
    req.aux2 = 77;
    req.has_route = true;
    req.route = {"c1", "m2"};
    req.userid = 1000;
    req.rolemask = role::user;
    Message kept = req.without_payload();
    EXPECT_TRUE(kept.payload.empty());
    EXPECT_FALSE(kept.has_payload);
    EXPECT_EQ(kept.topic, req.topic);
    EXPECT_EQ(kept.userid, 1000u);
    EXPECT_EQ(kept.rolemask, role::user);
    EXPECT_EQ(kept.nodeid(), 3u);
    EXPECT_TRUE(kept.has_flag(msgflag::streaming));
    Message a = Message::response_to(req, "r"), b = Message::response_to(kept, "r");
    EXPECT_EQ(encode_frames(a), encode_frames(b));
    Message ea = Message::error_to(req, EPERM, "no"), eb = Message::error_to(kept, EPERM, "no");
    EXPECT_EQ(encode_frames(ea), encode_frames(eb));
}

TEST(MessageHelpers, ErrorTo)
{
    Message req = Message::request("kvs.get", {}, NODEID_ANY, msgflag::streaming);
    req.aux2 = 9;
    req.route = {"x"};
    Message e = Message::error_to(req, ENOENT, "no such key");
    EXPECT_TRUE(e.is_response());
    EXPECT_EQ(e.errnum(), static_cast<uint32_t>(ENOENT));
    EXPECT_EQ(e.matchtag(), 9u);
    EXPECT_EQ(e.route, req.route);
    EXPECT_TRUE(e.has_flag(msgflag::streaming));
    EXPECT_EQ(e.error_text(), "no such key");

    Message bare = Message::error_to(req, EPERM);
    EXPECT_FALSE(bare.has_payload);
    EXPECT_EQ(bare.error_text(), std::strerror(EPERM));
    EXPECT_EQ(Message::error_to(req, 0).errnum(), static_cast<uint32_t>(EINVAL));

    Message empty = Message::error_to(req, EIO);
    empty.set_payload("");
    EXPECT_EQ(empty.error_text(), std::strerror(EIO));
}

TEST(MessageHelpers, ServiceAndDescriptions)
{
    EXPECT_EQ(Message::request("job-manager.submit").service(), "job-manager");
    EXPECT_EQ(Message::request("a.b.c").service(), "a");
    EXPECT_EQ(Message::request("nodot").service(), "nodot");
    EXPECT_EQ(Message::control(0, 0).service(), "");

    Message m = Message::request("svc.x", {}, 5);
    m.route = {"a", "b", "c"};
    EXPECT_EQ(m.route_string(), "a!b!c");
    EXPECT_NE(m.describe().find("nodeid=5"), std::string::npos);
    EXPECT_NE(m.describe().find("route=a!b!c"), std::string::npos);
    EXPECT_NE(Message::request("x").describe().find("nodeid=any"), std::string::npos);
    EXPECT_STREQ(msgtype_name(MsgType::event), "event");
    EXPECT_STREQ(msgtype_name(static_cast<MsgType>(0x33)), "unknown");
}

TEST(MessageHelpers, Constructors)
{
    Message r = Message::request("t");
    EXPECT_FALSE(r.has_payload);
    EXPECT_EQ(r.nodeid(), NODEID_ANY);
    Message e = Message::event("ev", "p");
    EXPECT_TRUE(e.is_event());
    EXPECT_EQ(e.seq(), 0u);
    EXPECT_TRUE(e.has_payload);
    Message c = Message::control(4, 5);
    EXPECT_TRUE(c.is_control());
    EXPECT_EQ(c.aux1, 4u);
    EXPECT_EQ(c.aux2, 5u);
}
