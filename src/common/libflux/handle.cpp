// Handle: RPC futures, message dispatch and broker conveniences over a Connector.
#include <flux/handle.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace flux {

using json = nlohmann::json;

struct Future::State {
    Handle* h = nullptr;
    uint32_t matchtag = 0;
    std::deque<Result<Message>> q;
    std::function<void(Future&)> cb;
    TimerPtr timer;
    bool done = false;
};

struct Handle::Handlers {
    struct Entry {
        MsgType type;
        std::string topic;  // without the trailing '*' for prefixes
        bool prefix;
        MsgHandler cb;
        uint32_t rolemask;
    };
    std::unordered_map<uint32_t, std::shared_ptr<Future::State>> pending;
    uint32_t next_tag = 1;
    std::vector<Entry> entries;

    const Entry* find(MsgType type, const std::string& topic) const
    {
        const Entry* best = nullptr;
        for (const auto& e : entries) {
            if (e.type != type)
                continue;
            if (!e.prefix) {
                if (e.topic == topic)
                    return &e;
            } else if (topic.compare(0, e.topic.size(), e.topic) == 0) {
                if (!best || e.topic.size() > best->topic.size())
                    best = &e;
            }
        }
        return best;
    }
};

// ---- Future ------------------------------------------------------------------

bool Future::ready() const
{
    return state_ && !state_->q.empty();
}

Result<Message> Future::get(double timeout)
{
    if (!state_)
        return fail(EINVAL, "invalid future");
    Handle* h = state_->h;
    if (state_->q.empty() && h) {
        bool expired = false;
        TimerPtr t;
        if (timeout >= 0) {
            // Count from now, not from the loop's last (possibly stale) pass.
            h->reactor().update_time();
            t = h->reactor().timer(timeout, 0, [&] { expired = true; });
        }
        // A caller blocked on a response polls for it briefly before it
        // sleeps: a wake-up from sleep costs more than most round trips.
        // The loop's own setting comes back however the wait ends.
        Reactor& r = h->reactor();
        struct Restore {
            Reactor& r;
            double spin = r.spin();
            bool any = r.spin_any();
            ~Restore() { r.set_spin(spin, any); }
        } restore{r};
        r.set_spin(std::max(restore.spin, h->wait_spin_));
        r.note_activity();
        while (state_->q.empty() && !expired && !h->lost_)
            r.run_once();
        if (state_->q.empty()) {
            if (h->lost_)
                return fail(ECONNRESET, "lost connection to broker");
            return fail(ETIMEDOUT, "timed out waiting for a response");
        }
    }
    if (state_->q.empty())
        return fail(ECONNRESET, "lost connection to broker");
    return state_->q.front();
}

Result<std::string> Future::get_payload(double timeout)
{
    auto m = get(timeout);
    if (!m)
        return std::unexpected(m.error());
    return std::move(m->payload);
}

void Future::reset()
{
    if (state_ && !state_->q.empty())
        state_->q.pop_front();
}

uint32_t Future::matchtag() const
{
    return state_ ? state_->matchtag : 0;
}

void Future::cancel()
{
    if (!state_ || !state_->h)
        return;
    state_->h->handlers_->pending.erase(state_->matchtag);
    state_->cb = nullptr;
    state_->timer.reset();
    state_->done = true;
}

void Future::then(std::function<void(Future&)> cb, double timeout)
{
    if (!state_)
        return;
    state_->cb = std::move(cb);
    // No timer for a finished future: nothing would reset it before the
    // handle (and its reactor) is destroyed.
    if (timeout > 0 && state_->h && !state_->done) {
        std::weak_ptr<State> weak = state_;
        state_->timer = state_->h->reactor().timer(timeout, 0, [weak] {
            auto s = weak.lock();
            if (!s || !s->q.empty() || s->done)
                return;
            s->q.push_back(std::unexpected(Error(ETIMEDOUT, "timed out waiting for a response")));
            if (s->cb) {
                Future f(s);
                s->cb(f);
            }
        });
    }
    if (!state_->q.empty()) {
        Future f(state_);
        state_->cb(f);
    }
}

// ---- Handle ------------------------------------------------------------------

Result<std::unique_ptr<Handle>> Handle::open(std::string_view uri)
{
    std::string u(uri);
    if (u.empty()) {
        const char* env = getenv("FLUX_URI");
        if (!env || !*env)
            return fail(ENOENT, "FLUX_URI is not set: run this inside an instance (see flux start)");
        u = env;
    }
    std::string path;
    if (u.starts_with("local://")) {
        path = u.substr(std::strlen("local://"));
    } else if (u.starts_with("ssh://")) {
        // ssh://HOST/PATH (a child instance's remote URI): reachable when
        // its socket is on this machine, as with every instance of a
        // single-node or --test-hosts tree.
        auto slash = u.find('/', std::strlen("ssh://"));
        path = slash == std::string::npos ? "" : u.substr(slash);
        if (path.empty() || access(path.c_str(), F_OK) != 0)
            return fail(EHOSTUNREACH,
                        "cannot reach '" + u + "': its socket is not on this host (run the command on that host)");
    } else {
        return fail(EINVAL, "unsupported URI '" + u + "' (expected local://PATH or ssh://HOST/PATH)");
    }
    auto conn = connect_local(path);
    if (!conn)
        return std::unexpected(conn.error());
    return std::make_unique<Handle>(std::move(*conn));
}

Handle::Handle(std::unique_ptr<Connector> conn)
    : reactor_(std::make_unique<Reactor>()), conn_(std::move(conn)), handlers_(std::make_unique<Handlers>())
{
    watcher_ = conn_->watch(*reactor_, [this] { on_ready(); });
    // Only a caller blocked in Future::get polls (FLUX_HANDLE_SPIN_US, 0 to
    // never poll): a module thread or job shell sleeping in its loop leaves
    // the cores to the jobs.
    if (const char* s = getenv("FLUX_HANDLE_SPIN_US"))
        wait_spin_ = std::max(0.0, std::atof(s) * 1e-6);
}

Handle::~Handle()
{
    for (auto& [tag, st] : handlers_->pending) {
        st->h = nullptr;
        st->timer.reset();
    }
    watcher_.reset();
    conn_.reset();
}

uint32_t Handle::alloc_matchtag()
{
    auto& hs = *handlers_;
    for (;;) {
        uint32_t tag = hs.next_tag++;
        if (hs.next_tag == 0)
            hs.next_tag = 1;
        if (tag != MATCHTAG_NONE && !hs.pending.contains(tag))
            return tag;
    }
}

Future Handle::rpc(std::string topic, std::string payload, uint32_t nodeid, uint8_t flags)
{
    Message m = Message::request(std::move(topic), std::move(payload), nodeid, flags);
    if (nodeid == NODEID_UPSTREAM) {
        auto r = rank();
        m.aux1 = r ? *r : 0;
        m.flags |= msgflag::upstream;
    }
    if (flags & msgflag::noresponse) {
        (void)send(m);
        return Future();
    }
    auto st = std::make_shared<Future::State>();
    st->h = this;
    st->matchtag = alloc_matchtag();
    m.aux2 = st->matchtag;
    if (lost_) {
        st->q.push_back(std::unexpected(Error(ECONNRESET, "lost connection to broker")));
        st->done = true;
        return Future(st);
    }
    handlers_->pending.emplace(st->matchtag, st);
    if (auto r = conn_->send(m); !r) {
        handlers_->pending.erase(st->matchtag);
        st->q.push_back(std::unexpected(r.error()));
        st->done = true;
    }
    schedule_drain();
    return Future(st);
}

// A send that waited for room may have read the broker's messages into the
// connector; no fd event will announce those, so dispatch them from the loop.
void Handle::schedule_drain()
{
    if (drain_scheduled_ || !conn_->has_buffered())
        return;
    drain_scheduled_ = true;
    reactor_->defer([this] {
        drain_scheduled_ = false;
        on_ready();
    });
}

Result<void> Handle::send(const Message& msg)
{
    if (lost_)
        return fail(ECONNRESET, "lost connection to broker");
    auto r = conn_->send(msg);
    schedule_drain();
    return r;
}

Result<void> Handle::respond(const Message& req, std::string payload)
{
    if (req.has_flag(msgflag::noresponse))
        return {};
    return send(Message::response_to(req, std::move(payload)));
}

Result<void> Handle::respond_error(const Message& req, int errnum, std::string text)
{
    if (req.has_flag(msgflag::noresponse))
        return {};
    return send(Message::error_to(req, errnum, std::move(text)));
}

void Handle::add_handler(MsgType type, std::string topic, MsgHandler cb, uint32_t rolemask)
{
    bool prefix = !topic.empty() && topic.back() == '*';
    if (prefix)
        topic.pop_back();
    remove_handler(type, prefix ? topic + "*" : topic);
    handlers_->entries.push_back({type, std::move(topic), prefix, std::move(cb), rolemask});
}

void Handle::remove_handler(MsgType type, const std::string& topic)
{
    bool prefix = !topic.empty() && topic.back() == '*';
    std::string t = prefix ? topic.substr(0, topic.size() - 1) : topic;
    auto& v = handlers_->entries;
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (it->type == type && it->prefix == prefix && it->topic == t) {
            v.erase(it);
            return;
        }
    }
}

void Handle::clear_handlers()
{
    handlers_->entries.clear();
    // RPC continuations may capture the same state: answers that still come
    // are dropped.
    for (auto& [tag, st] : handlers_->pending) {
        st->cb = nullptr;
        st->timer.reset();
    }
    handlers_->pending.clear();
}

void Handle::on_ready()
{
    // Drain fully: connectors may hold already-decoded messages that no
    // further fd event will announce.
    while (!lost_) {
        auto r = conn_->recv();
        if (!r) {
            fail_all(r.error());
            return;
        }
        if (!*r)
            return;
        dispatch(std::move(**r));
    }
}

void Handle::dispatch_pending()
{
    on_ready();
}

void Handle::fail_all(const Error& err)
{
    if (lost_)
        return;
    lost_ = true;
    watcher_.reset();
    auto pending = std::move(handlers_->pending);
    handlers_->pending.clear();
    for (auto& [tag, st] : pending) {
        st->q.push_back(std::unexpected(err));
        st->done = true;
        st->timer.reset();
        if (st->cb) {
            Future f(st);
            st->cb(f);
        }
    }
    if (disconnect_cb_)
        disconnect_cb_(err);
}

void Handle::dispatch(Message&& msg)
{
    switch (msg.type) {
        case MsgType::response: {
            if (msg.matchtag() == MATCHTAG_NONE) {
                // Protocols that match responses by payload (RFC 27 sched.alloc,
                // job-exec.start) go to a response handler for the topic.
                if (const auto* e = handlers_->find(msg.type, msg.topic)) {
                    MsgHandler cb = e->cb;
                    cb(msg);
                }
                return;
            }
            auto it = handlers_->pending.find(msg.matchtag());
            if (it == handlers_->pending.end())
                return;  // canceled or unknown: drop
            auto st = it->second;
            bool final = !msg.has_flag(msgflag::streaming) || msg.errnum() != 0;
            if (final) {
                handlers_->pending.erase(it);
                st->done = true;
                st->timer.reset();
            }
            if (msg.errnum() != 0)
                st->q.push_back(std::unexpected(Error(static_cast<int>(msg.errnum()), msg.error_text())));
            else
                st->q.push_back(std::move(msg));
            if (st->cb) {
                Future f(st);
                st->cb(f);
            }
            return;
        }
        case MsgType::request:
        case MsgType::event: {
            const auto* e = handlers_->find(msg.type, msg.topic);
            if (!e) {
                if (msg.is_request())
                    (void)respond_error(msg, ENOSYS, "unknown service method " + msg.topic);
                return;
            }
            if (msg.is_request() && (msg.rolemask & e->rolemask) == 0) {
                (void)respond_error(msg, EPERM, "permission denied: " + msg.topic + " is for the instance owner");
                return;
            }
            MsgHandler cb = e->cb;  // the handler may remove itself
            if (!msg.is_request()) {
                cb(msg);
                return;
            }
            try {
                cb(msg);
            } catch (const std::exception& ex) {
                // The sender gets an answer before the exception goes on up.
                (void)respond_error(msg, EIO, std::string("request handler failed: ") + ex.what());
                throw;
            }
            return;
        }
        case MsgType::control:
            if (control_cb_)
                control_cb_(msg);
            return;
    }
}

Result<void> Handle::subscribe(const std::string& prefix)
{
    auto r = rpc("event.subscribe", json{{"topic", prefix}}.dump()).get();
    if (!r)
        return std::unexpected(r.error());
    return {};
}

Result<void> Handle::unsubscribe(const std::string& prefix)
{
    auto r = rpc("event.unsubscribe", json{{"topic", prefix}}.dump()).get();
    if (!r)
        return std::unexpected(r.error());
    return {};
}

Result<uint32_t> Handle::publish(const std::string& topic, std::string payload, uint8_t flags)
{
    json req{{"topic", topic}, {"flags", flags}};
    if (!payload.empty())
        req["payload"] = std::move(payload);
    auto r = rpc("event.pub", req.dump()).get();
    if (!r)
        return std::unexpected(r.error());
    try {
        return json::parse(r->payload).at("seq").get<uint32_t>();
    } catch (const std::exception& e) {
        return fail(EPROTO, std::string("event.pub: bad response: ") + e.what());
    }
}

Result<void> Handle::service_register(const std::string& name)
{
    auto r = rpc("service.add", json{{"service", name}}.dump()).get();
    if (!r)
        return std::unexpected(r.error());
    return {};
}

Result<void> Handle::service_unregister(const std::string& name)
{
    auto r = rpc("service.remove", json{{"service", name}}.dump()).get();
    if (!r)
        return std::unexpected(r.error());
    return {};
}

Result<std::string> Handle::getattr(const std::string& name)
{
    auto r = rpc("attr.get", json{{"name", name}}.dump()).get();
    if (!r)
        return std::unexpected(r.error());
    try {
        return json::parse(r->payload).at("value").get<std::string>();
    } catch (const std::exception& e) {
        return fail(EPROTO, std::string("attr.get: bad response: ") + e.what());
    }
}

Result<uint32_t> Handle::rank()
{
    if (!rank_) {
        auto v = getattr("rank");
        if (!v)
            return std::unexpected(v.error());
        rank_ = static_cast<uint32_t>(std::stoul(*v));
    }
    return *rank_;
}

Result<uint32_t> Handle::size()
{
    if (!size_) {
        auto v = getattr("size");
        if (!v)
            return std::unexpected(v.error());
        size_ = static_cast<uint32_t>(std::stoul(*v));
    }
    return *size_;
}

void Handle::log(int level, std::string_view text)
{
    json req{{"level", level}, {"message", text}, {"name", log_name_}};
    (void)rpc("log.append", req.dump(), NODEID_ANY, msgflag::noresponse);
}

}  // namespace flux
