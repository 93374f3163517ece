// Unit tests for flux::Handle: RPC futures and request/event handlers over an in-process PAIR or a fake connector.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <flux/handle.hpp>

#include "libflux/zmqutil.hpp"

using namespace flux;

namespace {

// The errnum of a failed result, 0 on success.
template <class T>
int errnum_of(const Result<T>& r)
{
    return r ? 0 : r.error().errnum;
}

// Run `h`'s reactor until `pred()` or `timeout` seconds (a hang bound).
bool pump(Handle& h, const std::function<bool()>& pred, double timeout = 10)
{
    bool expired = false;
    auto guard = h.reactor().timer(timeout, 0, [&] { expired = true; });
    while (!pred() && !expired)
        h.reactor().run_once();
    return pred();
}

// A Handle on one end of an inproc PAIR; the test plays the broker on the other.
class HandleTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ctx_ = zmq_ctx_new();
        ASSERT_NE(ctx_, nullptr);
        broker_ = zmq_socket(ctx_, ZMQ_PAIR);
        void* hs = zmq_socket(ctx_, ZMQ_PAIR);
        int linger = 0;
        zmq_setsockopt(broker_, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(hs, ZMQ_LINGER, &linger, sizeof(linger));
        ASSERT_EQ(zmq_bind(broker_, "inproc://test-handle"), 0);
        ASSERT_EQ(zmq_connect(hs, "inproc://test-handle"), 0);
        h_ = std::make_unique<Handle>(connector_from_zmq(hs));
    }
    void TearDown() override
    {
        h_.reset();
        zmq_close(broker_);
        zmq_ctx_term(ctx_);
    }

    bool broker_readable(long timeout_ms = 0)
    {
        zmq_pollitem_t item = {broker_, 0, ZMQ_POLLIN, 0};
        return zmq_poll(&item, 1, timeout_ms) > 0;
    }
    // The next message the handle sent, waiting up to 10 s for it.
    std::optional<Message> broker_recv()
    {
        if (!broker_readable(10000))
            return std::nullopt;
        auto f = zmqutil::recv_frames(broker_);
        if (!f || !*f)
            return std::nullopt;
        auto m = zmqutil::decode(**f);
        return m ? std::optional<Message>(std::move(*m)) : std::nullopt;
    }
    void broker_send(const Message& m) { ASSERT_TRUE(zmqutil::send(broker_, m).has_value()); }
    // Send a request to the handle and return what it answers.
    std::optional<Message> call(const Message& req)
    {
        broker_send(req);
        if (!pump(*h_, [&] { return broker_readable(); }))
            return std::nullopt;
        return broker_recv();
    }
    Message request(std::string topic, uint32_t rolemask = role::owner, uint8_t flags = 0)
    {
        Message m = Message::request(std::move(topic), {}, NODEID_ANY, flags);
        m.rolemask = rolemask;
        m.userid = 1000;
        m.aux2 = next_tag_++;
        return m;
    }

    void* ctx_ = nullptr;
    void* broker_ = nullptr;
    std::unique_ptr<Handle> h_;
    uint32_t next_tag_ = 100;
};

// Test double for Connector: the test queues what recv() returns.
struct FakeWire {
    std::deque<Result<std::optional<Message>>> in;
    std::vector<Message> sent;
    std::optional<Error> send_error;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ~FakeWire() { close(efd); }
    void push(Result<std::optional<Message>> r)
    {
        in.push_back(std::move(r));
        uint64_t one = 1;
        EXPECT_EQ(write(efd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
    }
};

class FakeConnector : public Connector {
public:
    explicit FakeConnector(std::shared_ptr<FakeWire> w) : w_(std::move(w)) {}
    Result<void> send(const Message& msg) override
    {
        if (w_->send_error)
            return std::unexpected(*w_->send_error);
        w_->sent.push_back(msg);
        return {};
    }
    Result<std::optional<Message>> recv() override
    {
        if (w_->in.empty())
            return std::optional<Message>();
        auto r = std::move(w_->in.front());
        w_->in.pop_front();
        return r;
    }
    WatcherPtr watch(Reactor& r, std::function<void()> ready) override
    {
        return r.fd(w_->efd, EPOLLIN, [w = w_, ready = std::move(ready)](uint32_t) {
            uint64_t v;
            (void)!read(w->efd, &v, sizeof(v));
            ready();
        });
    }

private:
    std::shared_ptr<FakeWire> w_;
};

}  // namespace

TEST_F(HandleTest, RpcGetReturnsResponse)
{
    Future f = h_->rpc("test.echo", R"({"x":1})", 5);
    ASSERT_TRUE(f.valid());
    EXPECT_FALSE(f.ready());
    auto req = broker_recv();
    ASSERT_TRUE(req);
    EXPECT_TRUE(req->is_request());
    EXPECT_EQ(req->topic, "test.echo");
    EXPECT_EQ(req->payload, R"({"x":1})");
    EXPECT_EQ(req->nodeid(), 5u);
    EXPECT_NE(req->matchtag(), MATCHTAG_NONE);
    EXPECT_EQ(req->matchtag(), f.matchtag());
    broker_send(Message::response_to(*req, "pong"));
    auto r = f.get(10);
    ASSERT_TRUE(r.has_value()) << r.error().text;
    EXPECT_EQ(r->payload, "pong");
    EXPECT_TRUE(f.ready());
    EXPECT_EQ(f.get_payload().value_or(""), "pong");
}

TEST_F(HandleTest, ConcurrentRpcsMatchByTag)
{
    Future a = h_->rpc("test.a");
    Future b = h_->rpc("test.b");
    EXPECT_NE(a.matchtag(), b.matchtag());
    auto ra = broker_recv(), rb = broker_recv();
    ASSERT_TRUE(ra && rb);
    broker_send(Message::response_to(*rb, "B"));  // out of order
    broker_send(Message::response_to(*ra, "A"));
    EXPECT_EQ(a.get_payload(10).value_or(""), "A");
    EXPECT_EQ(b.get_payload(10).value_or(""), "B");
}

TEST_F(HandleTest, ErrorResponsesBecomeErrors)
{
    Future f = h_->rpc("kvs.get");
    auto req = broker_recv();
    ASSERT_TRUE(req);
    broker_send(Message::error_to(*req, ENOENT, "no such key"));
    auto r = f.get(10);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, ENOENT);
    EXPECT_EQ(r.error().text, "no such key");

    Future g = h_->rpc("kvs.put");
    req = broker_recv();
    ASSERT_TRUE(req);
    broker_send(Message::error_to(*req, EPERM));
    r = g.get(10);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EPERM);
    EXPECT_EQ(r.error().text, std::strerror(EPERM));
}

TEST_F(HandleTest, StreamingRpcEndsWithEnodata)
{
    Future f = h_->rpc("job.watch", {}, NODEID_ANY, msgflag::streaming);
    auto req = broker_recv();
    ASSERT_TRUE(req);
    EXPECT_TRUE(req->has_flag(msgflag::streaming));
    for (int i = 0; i < 3; i++)
        broker_send(Message::response_to(*req, std::to_string(i)));
    broker_send(Message::error_to(*req, ENODATA));
    for (int i = 0; i < 3; i++) {
        auto r = f.get(10);
        ASSERT_TRUE(r.has_value()) << r.error().text;
        EXPECT_EQ(r->payload, std::to_string(i));
        f.reset();
    }
    auto end = f.get(10);
    ASSERT_FALSE(end.has_value());
    EXPECT_EQ(end.error().errnum, ENODATA);

    // A late response after the end of the stream is dropped.
    broker_send(Message::response_to(*req, "late"));
    auto probe = call(request("probe.x"));
    ASSERT_TRUE(probe);
    f.reset();
    EXPECT_FALSE(f.ready());
}

TEST_F(HandleTest, ThenCallbackPerResponse)
{
    Future f = h_->rpc("job.watch", {}, NODEID_ANY, msgflag::streaming);
    std::vector<std::string> got;
    int err = 0;
    f.then([&](Future& fut) {
        auto r = fut.get();
        if (r)
            got.push_back(r->payload);
        else
            err = r.error().errnum;
        fut.reset();
    });
    auto req = broker_recv();
    ASSERT_TRUE(req);
    broker_send(Message::response_to(*req, "a"));
    broker_send(Message::response_to(*req, "b"));
    broker_send(Message::error_to(*req, ENODATA));
    ASSERT_TRUE(pump(*h_, [&] { return err != 0; }));
    EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(err, ENODATA);
}

TEST_F(HandleTest, ThenOnReadyFutureRunsAtOnce)
{
    Future f = h_->rpc("test.x");
    auto req = broker_recv();
    ASSERT_TRUE(req);
    broker_send(Message::response_to(*req, "r"));
    ASSERT_TRUE(f.get(10).has_value());
    std::string got;
    f.then([&](Future& fut) { got = fut.get_payload().value_or("?"); });
    EXPECT_EQ(got, "r");
}

TEST_F(HandleTest, GetTimesOutThenStillReceives)
{
    Future f = h_->rpc("slow.x");
    auto req = broker_recv();
    ASSERT_TRUE(req);
    auto r = f.get(0.05);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, ETIMEDOUT);
    broker_send(Message::response_to(*req, "finally"));
    EXPECT_EQ(f.get_payload(10).value_or(""), "finally");
}

TEST_F(HandleTest, GetTimeoutCountsFromTheCall)
{
    // The loop's cached time is stale (nothing ran it for 100 s); the
    // response comes on the loop's second pass. An idle watcher keeps the
    // loop from blocking, so nothing here waits in real time.
    double t = 0;
    h_->reactor().set_clock([&] { return t; });
    t = 100;
    Future f = h_->rpc("svc.x");
    auto req = broker_recv();
    ASSERT_TRUE(req);
    int passes = 0;
    auto idle = h_->reactor().idle([] {});
    auto prep = h_->reactor().prepare([&] {
        t += 0.01;  // bounds the test at 500 passes if the response never came
        if (++passes == 2)
            broker_send(Message::response_to(*req, "ok"));
    });
    auto r = f.get(5);
    ASSERT_TRUE(r.has_value()) << r.error().text;
    EXPECT_EQ(r->payload, "ok");
}

TEST_F(HandleTest, ThenTimeoutDeliversEtimedout)
{
    Future f = h_->rpc("slow.x");
    int err = 0;
    f.then(
        [&](Future& fut) {
            auto r = fut.get();
            err = r ? -1 : r.error().errnum;
        },
        0.05);
    ASSERT_TRUE(pump(*h_, [&] { return err != 0; }));
    EXPECT_EQ(err, ETIMEDOUT);
}

TEST_F(HandleTest, CancelDropsLateResponse)
{
    Future f = h_->rpc("test.x");
    int calls = 0;
    f.then([&](Future&) { calls++; });
    auto req = broker_recv();
    ASSERT_TRUE(req);
    f.cancel();
    broker_send(Message::response_to(*req, "r"));
    ASSERT_TRUE(call(request("probe.x")));  // the response was processed before this
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(f.ready());
}

TEST_F(HandleTest, BadInputFromPeerIsDropped)
{
    Future f = h_->rpc("test.x");
    auto req = broker_recv();
    ASSERT_TRUE(req);
    ASSERT_EQ(zmq_send(broker_, "garbage", 7, 0), 7);
    Message stray = Message::response_to(*req, "stray");
    stray.aux2 = 999999;  // nobody's matchtag
    broker_send(stray);
    broker_send(Message::response_to(*req, "real"));
    EXPECT_EQ(f.get_payload(10).value_or(""), "real");
    EXPECT_TRUE(h_->connected());
}

TEST_F(HandleTest, ExactAndPrefixHandlers)
{
    std::vector<std::string> hits;
    auto add = [&](const std::string& topic) {
        h_->add_handler(MsgType::request, topic, [&, topic](const Message& m) {
            hits.push_back(topic + ":" + m.topic);
            (void)h_->respond(m, topic);
        });
    };
    add("svc.exact");
    add("svc.*");
    add("svc.sub.*");
    for (const char* t : {"svc.exact", "svc.other", "svc.sub.x", "svc.exactly"}) {
        Message req = request(t);
        auto rsp = call(req);
        ASSERT_TRUE(rsp) << t;
        EXPECT_EQ(rsp->matchtag(), req.matchtag());
        EXPECT_EQ(rsp->errnum(), 0u);
    }
    EXPECT_EQ(hits, (std::vector<std::string>{"svc.exact:svc.exact", "svc.*:svc.other", "svc.sub.*:svc.sub.x",
                                              "svc.*:svc.exactly"}));
    for (const char* t : {"svcx", "svc", "other.exact"}) {
        auto rsp = call(request(t));
        ASSERT_TRUE(rsp) << t;
        EXPECT_TRUE(rsp->is_response());
        EXPECT_EQ(rsp->errnum(), static_cast<uint32_t>(ENOSYS)) << t;
    }
    EXPECT_EQ(hits.size(), 4u);

    h_->remove_handler(MsgType::request, "svc.*");
    auto rsp = call(request("svc.other"));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->errnum(), static_cast<uint32_t>(ENOSYS));
    h_->clear_handlers();
    rsp = call(request("svc.exact"));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->errnum(), static_cast<uint32_t>(ENOSYS));
}

TEST_F(HandleTest, UnmatchedRequestGetsEnosysUnlessNoresponse)
{
    Message quiet = request("nope.a", role::owner, msgflag::noresponse);
    broker_send(quiet);
    Message req = request("nope.b");
    req.has_route = true;
    req.route = {"client-7"};
    auto rsp = call(req);
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->matchtag(), req.matchtag());  // nothing came back for `quiet`
    EXPECT_EQ(rsp->errnum(), static_cast<uint32_t>(ENOSYS));
    EXPECT_EQ(rsp->route, req.route);
    EXPECT_NE(rsp->error_text().find("nope.b"), std::string::npos);
}

TEST_F(HandleTest, RolemaskCheckAnswersEperm)
{
    int called = 0;
    h_->add_handler(MsgType::request, "admin.x", [&](const Message& m) {
        called++;
        (void)h_->respond(m);
    });
    h_->add_handler(
        MsgType::request, "open.x",
        [&](const Message& m) {
            called++;
            (void)h_->respond(m);
        },
        role::owner | role::user);
    auto rsp = call(request("admin.x", role::user));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->errnum(), static_cast<uint32_t>(EPERM));
    rsp = call(request("admin.x", role::none));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->errnum(), static_cast<uint32_t>(EPERM));
    EXPECT_EQ(called, 0);
    rsp = call(request("open.x", role::user));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->errnum(), 0u);
    rsp = call(request("admin.x", role::owner));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->errnum(), 0u);
    EXPECT_EQ(called, 2);
}

TEST_F(HandleTest, HandlerMayRemoveItselfAndReplace)
{
    int first = 0, second = 0;
    h_->add_handler(MsgType::request, "dup.x", [&](const Message&) { first++; });
    h_->add_handler(MsgType::request, "dup.x", [&](const Message& m) {  // replaces the first
        second++;
        h_->remove_handler(MsgType::request, "dup.x");
        (void)h_->respond(m, "bye");
    });
    auto rsp = call(request("dup.x"));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->payload, "bye");
    rsp = call(request("dup.x"));
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->errnum(), static_cast<uint32_t>(ENOSYS));
    EXPECT_EQ(first, 0);
    EXPECT_EQ(second, 1);
}

TEST_F(HandleTest, EventsAndControl)
{
    std::vector<std::string> events;
    h_->add_handler(MsgType::event, "hb.*", [&](const Message& m) { events.push_back(m.topic); });
    std::vector<uint32_t> ctl;
    h_->on_control([&](const Message& m) { ctl.push_back(m.aux1); });
    broker_send(Message::event("hb.pulse", "{}"));
    broker_send(Message::event("other.event"));  // ignored, and never answered
    broker_send(Message::control(3, 0));
    Message req = request("probe.x");
    auto rsp = call(req);
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->matchtag(), req.matchtag());
    EXPECT_EQ(events, (std::vector<std::string>{"hb.pulse"}));
    EXPECT_EQ(ctl, (std::vector<uint32_t>{3}));
}

TEST_F(HandleTest, ContextShutdownFailsPendingFutures)
{
    // Closing the peer PAIR socket is invisible to zmq; shutting the context
    // down makes the next recv fail, which must fail every pending future.
    Future f = h_->rpc("test.x");
    ASSERT_TRUE(broker_recv());
    int lost = 0;
    h_->on_disconnect([&](const Error& e) {
        lost++;
        EXPECT_EQ(e.errnum, ECONNRESET);
    });
    zmq_ctx_shutdown(ctx_);
    h_->dispatch_pending();
    EXPECT_FALSE(h_->connected());
    EXPECT_EQ(lost, 1);
    auto r = f.get(10);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, ECONNRESET);
}

TEST(HandleFake, DisconnectFailsPendingFutures)
{
    auto wire = std::make_shared<FakeWire>();
    Handle h(std::make_unique<FakeConnector>(wire));
    Future a = h.rpc("a.x");
    Future b = h.rpc("b.x");
    ASSERT_EQ(wire->sent.size(), 2u);
    int b_err = 0, lost = 0;
    b.then([&](Future& f) { b_err = errnum_of(f.get()); });
    h.on_disconnect([&](const Error&) { lost++; });
    wire->push(std::optional<Message>(Message::response_to(wire->sent[0], "ok")));
    EXPECT_EQ(a.get_payload(10).value_or(""), "ok");
    wire->push(std::unexpected(Error(ECONNRESET, "broker went away")));
    ASSERT_TRUE(pump(h, [&] { return !h.connected(); }));
    EXPECT_EQ(b_err, ECONNRESET);
    EXPECT_EQ(lost, 1);
    auto r = b.get(10);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().text, "broker went away");

    Future c = h.rpc("c.x");  // fails at once, without sending
    EXPECT_TRUE(c.ready());
    EXPECT_EQ(errnum_of(c.get()), ECONNRESET);
    EXPECT_EQ(wire->sent.size(), 2u);
    EXPECT_EQ(errnum_of(h.send(Message::request("d.x"))), ECONNRESET);
}

TEST(HandleFake, SendFailureFailsTheFuture)
{
    auto wire = std::make_shared<FakeWire>();
    Handle h(std::make_unique<FakeConnector>(wire));
    wire->send_error = Error(EHOSTUNREACH, "no route");
    Future f = h.rpc("a.x");
    ASSERT_TRUE(f.ready());
    EXPECT_EQ(errnum_of(f.get()), EHOSTUNREACH);
    EXPECT_TRUE(h.connected());
    EXPECT_FALSE(h.rpc("log.x", {}, NODEID_ANY, msgflag::noresponse).valid());
}

TEST(HandleFake, FutureMayOutliveHandle)
{
    auto wire = std::make_shared<FakeWire>();
    auto h = std::make_unique<Handle>(std::make_unique<FakeConnector>(wire));
    Future done = h->rpc("a.x");
    Future pending = h->rpc("b.x");
    wire->push(std::optional<Message>(Message::response_to(wire->sent[0], "ok")));
    ASSERT_TRUE(done.get(10).has_value());
    int calls = 0;
    done.then([&](Future&) { calls++; }, 30);  // already complete: no timer may outlive the handle
    pending.then([&](Future&) { calls++; }, 30);
    EXPECT_EQ(calls, 1);
    h.reset();
    done = Future();
    EXPECT_EQ(errnum_of(pending.get(1)), ECONNRESET);
    pending = Future();
}

// A handle over a socket the broker handed over (the zygote's job shells):
// no greeting is expected, and RPCs travel in the stream framing both ways.
TEST(HandleFd, RpcOverAHandedOverSocket)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    Handle h(connector_from_fd(sv[1]));
    Future f = h.rpc("svc.echo", "ping");
    // Play the broker: read the request, answer it.
    StreamDecoder dec;
    Message req;
    Error err;
    while (dec.next(req, err) != StreamDecoder::Status::message)
        ASSERT_GT(dec.recv_from(sv[0]), 0);
    EXPECT_EQ(req.topic, "svc.echo");
    EXPECT_EQ(req.payload, "ping");
    std::string out;
    encode_stream(Message::response_to(req, "pong"), out);
    ASSERT_EQ(write(sv[0], out.data(), out.size()), static_cast<ssize_t>(out.size()));
    EXPECT_EQ(f.get_payload(10).value_or(""), "pong");
    // The broker's end closing is a disconnect, as for a connected socket.
    close(sv[0]);
    Future g = h.rpc("svc.echo");
    EXPECT_EQ(errnum_of(g.get(10)), ECONNRESET);
}

// Future::get polls while it waits, then gives the loop back its own
// polling setting, also when a callback run during the wait throws.
TEST(HandleFake, GetRestoresTheLoopsPolling)
{
    auto wire = std::make_shared<FakeWire>();
    Handle h(std::make_unique<FakeConnector>(wire));
    h.reactor().set_spin(7e-6, false);
    Future a = h.rpc("a.x");
    wire->push(std::optional<Message>(Message::response_to(wire->sent[0], "ok")));
    EXPECT_EQ(a.get_payload(10).value_or(""), "ok");
    EXPECT_EQ(h.reactor().spin(), 7e-6);
    EXPECT_FALSE(h.reactor().spin_any());

    Future b = h.rpc("b.x");
    Future c = h.rpc("c.x");
    b.then([](Future&) { throw std::runtime_error("callback failed"); });
    wire->push(std::optional<Message>(Message::response_to(wire->sent[1], "")));
    EXPECT_THROW((void)c.get(10), std::runtime_error);
    EXPECT_EQ(h.reactor().spin(), 7e-6);
    EXPECT_FALSE(h.reactor().spin_any());
}
