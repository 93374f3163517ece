// Client handle: a connection to a broker with RPC futures, message handlers,
// event subscription and logging. Used by commands, modules and the shell.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <flux/error.hpp>
#include <flux/message.hpp>
#include <flux/reactor.hpp>

namespace flux {

/// A transport to a broker: a UNIX socket (local://) or a ZeroMQ inproc
/// socket (modules). Implementations never block in recv().
class Connector {
public:
    virtual ~Connector() = default;
    virtual Result<void> send(const Message& msg) = 0;
    /// The next message if one is available now; std::nullopt when none;
    /// an error (ECONNRESET) when the broker has gone.
    virtual Result<std::optional<Message>> recv() = 0;
    /// Register with `r`: `ready` runs when recv() may have messages.
    virtual WatcherPtr watch(Reactor& r, std::function<void()> ready) = 0;
    /// True when messages were read ahead (e.g. while send() waited for
    /// room) and recv() will return them without any new fd event.
    virtual bool has_buffered() const { return false; }
};

/// Connect to a broker's local socket. `path` is the socket path (the part
/// of a local:// URI after the scheme).
Result<std::unique_ptr<Connector>> connect_local(const std::string& path);
/// Wrap a stream socket the broker handed over already connected (a job
/// shell forked by the zygote: no connect, no greeting); takes ownership.
std::unique_ptr<Connector> connector_from_fd(int fd);
/// Wrap a connected ZeroMQ PAIR socket (void* from zmq); takes ownership.
std::unique_ptr<Connector> connector_from_zmq(void* zsock);

class Handle;

/// The pending result of an RPC. Copies share state. A streaming RPC
/// delivers many responses: get() returns the oldest unconsumed one and
/// reset() consumes it.
class Future {
public:
    Future() = default;
    bool valid() const { return state_ != nullptr; }
    /// True when a response (or error) is ready to get().
    bool ready() const;
    /// Wait for the current response: runs the handle's reactor until one
    /// arrives or `timeout` seconds pass (ETIMEDOUT). Error responses come
    /// back as errors carrying the responder's errnum and text.
    Result<Message> get(double timeout = -1);
    /// Convenience: the payload of get().
    Result<std::string> get_payload(double timeout = -1);
    /// Consume the current response (streaming RPCs).
    void reset();
    /// Call `cb` whenever a response is ready (it should get() and, for a
    /// stream, reset()). With timeout > 0, an ETIMEDOUT error is delivered if
    /// no response arrives in that many seconds.
    void then(std::function<void(Future&)> cb, double timeout = -1);
    /// The RPC's matchtag (diagnostics).
    uint32_t matchtag() const;
    /// Stop waiting for responses; later ones are dropped.
    void cancel();

    struct State;

private:
    friend class Handle;
    explicit Future(std::shared_ptr<State> s) : state_(std::move(s)) {}
    std::shared_ptr<State> state_;
};

using MsgHandler = std::function<void(const Message&)>;

class Handle {
public:
    /// Open a handle on `uri` ("local:///path/to/socket"), or on $FLUX_URI
    /// when `uri` is empty. ENOENT/ECONNREFUSED etc. say the instance is not
    /// reachable.
    static Result<std::unique_ptr<Handle>> open(std::string_view uri = {});
    explicit Handle(std::unique_ptr<Connector> conn);
    ~Handle();
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    Reactor& reactor() { return *reactor_; }

    /// Send a request and return its future. nodeid: NODEID_ANY, a rank, or
    /// NODEID_UPSTREAM (routed to the nearest service above this rank).
    /// With msgflag::noresponse, the future is invalid.
    Future rpc(std::string topic, std::string payload = {}, uint32_t nodeid = NODEID_ANY, uint8_t flags = 0);
    /// Send any message as is.
    Result<void> send(const Message& msg);
    Result<void> respond(const Message& req, std::string payload = {});
    Result<void> respond_error(const Message& req, int errnum, std::string text = {});

    /// Handle requests or events whose topic is `topic`, or starts with the
    /// prefix before a trailing '*' ("job-manager.*"). Requests from senders
    /// lacking any role in `rolemask` are answered EPERM without calling cb.
    /// Unmatched requests are answered ENOSYS. Responses carrying matchtag 0
    /// (protocols that match by payload, e.g. RFC 27 sched.alloc) go to a
    /// MsgType::response handler for their topic; others go to their Future.
    void add_handler(MsgType type, std::string topic, MsgHandler cb, uint32_t rolemask = role::owner);
    void remove_handler(MsgType type, const std::string& topic);
    /// Drop every message handler and every pending RPC continuation (a
    /// module whose main has returned: they may capture its state).
    void clear_handlers();
    /// Control messages (module shutdown etc.) go here.
    void on_control(std::function<void(const Message&)> cb) { control_cb_ = std::move(cb); }
    /// Called once if the connection to the broker is lost.
    void on_disconnect(std::function<void(const Error&)> cb) { disconnect_cb_ = std::move(cb); }

    /// Subscribe to / unsubscribe from events whose topic starts with prefix.
    Result<void> subscribe(const std::string& prefix);
    Result<void> unsubscribe(const std::string& prefix);
    /// Publish an event through rank 0; returns its sequence number.
    Result<uint32_t> publish(const std::string& topic, std::string payload = {}, uint8_t flags = 0);
    /// Register / unregister a service name with the local broker.
    Result<void> service_register(const std::string& name);
    Result<void> service_unregister(const std::string& name);

    Result<std::string> getattr(const std::string& name);
    Result<uint32_t> rank();
    Result<uint32_t> size();

    /// Log to the broker's ring (syslog levels: 0 emerg .. 7 debug), under
    /// the name given to set_log_name() (default "client").
    void log(int level, std::string_view text);
    void set_log_name(std::string name) { log_name_ = std::move(name); }

    /// Dispatch everything that is waiting, without blocking.
    void dispatch_pending();
    bool connected() const { return !lost_; }

private:
    void on_ready();
    void dispatch(Message&& msg);
    void fail_all(const Error& err);
    void schedule_drain();
    uint32_t alloc_matchtag();

    std::unique_ptr<Reactor> reactor_;
    std::unique_ptr<Connector> conn_;
    WatcherPtr watcher_;
    struct Handlers;
    std::unique_ptr<Handlers> handlers_;
    std::function<void(const Message&)> control_cb_;
    std::function<void(const Error&)> disconnect_cb_;
    bool lost_ = false;
    bool drain_scheduled_ = false;
    double wait_spin_ = 50e-6;  // Future::get polls this long before sleeping
    std::optional<uint32_t> rank_, size_;
    std::string log_name_ = "client";
    friend class Future;
};

}  // namespace flux
