// TBON overlay: ROUTER/DEALER sockets, hello/keepalive/goodbye control
// messages, fast loss detection with a socket monitor.
#include "overlay.hpp"

#include <zmq.h>

#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

#include "broker.hpp"
#include "libflux/zmqutil.hpp"

namespace flux::broker {

// ---- Topology --------------------------------------------------------------

std::optional<uint32_t> Topology::parent(uint32_t rank) const
{
    if (rank == 0 || rank >= size)
        return std::nullopt;
    return (rank - 1) / fanout;
}

std::vector<uint32_t> Topology::children(uint32_t rank) const
{
    std::vector<uint32_t> v;
    uint64_t first = uint64_t{rank} * fanout + 1;
    for (uint64_t c = first; c < first + fanout && c < size; c++)
        v.push_back(static_cast<uint32_t>(c));
    return v;
}

std::optional<uint32_t> Topology::child_toward(uint32_t rank, uint32_t target) const
{
    if (target >= size || target <= rank)
        return std::nullopt;
    uint32_t t = target;
    while (t != 0) {
        uint32_t p = (t - 1) / fanout;
        if (p == rank)
            return t;
        if (p < rank)
            return std::nullopt;
        t = p;
    }
    return std::nullopt;
}

std::vector<uint32_t> Topology::descendants(uint32_t rank) const
{
    std::vector<uint32_t> out;
    std::vector<uint32_t> stack = children(rank);
    while (!stack.empty()) {
        uint32_t r = stack.back();
        stack.pop_back();
        out.push_back(r);
        for (uint32_t c : children(r))
            stack.push_back(c);
    }
    return out;
}

const char* subtree_status_name(SubtreeStatus s)
{
    switch (s) {
        case SubtreeStatus::full:
            return "full";
        case SubtreeStatus::partial:
            return "partial";
        case SubtreeStatus::degraded:
            return "degraded";
        case SubtreeStatus::lost:
            return "lost";
        case SubtreeStatus::offline:
            return "offline";
        default:
            return "unknown";
    }
}

// ---- peers -------------------------------------------------------------------

struct Overlay::Child {
    uint32_t rank = 0;
    std::string ident;
    std::string hostname;  // from its hello
    IdSet online;          // online ranks in its subtree, as it reported them
    ChildState state = ChildState::offline;
    SubtreeStatus subtree = SubtreeStatus::offline;
    double last_seen = 0;
    std::unique_ptr<ChildPeer> peer;
    std::unordered_map<std::string, Message> pending;  // requests in flight below
};

class Overlay::ChildPeer : public Peer {
public:
    ChildPeer(Overlay& o, uint32_t r) : Peer(Kind::child, std::to_string(r)), o_(o), rank_(r)
    {
        rolemask = role::owner;
    }
    void send(Message&& m) override { (void)o_.send_child(rank_, std::move(m)); }

private:
    Overlay& o_;
    uint32_t rank_;
};

class Overlay::ParentPeer : public Peer {
public:
    ParentPeer(Overlay& o, uint32_t r) : Peer(Kind::parent, std::to_string(r)), o_(o) { rolemask = role::owner; }
    void send(Message&& m) override { (void)o_.send_parent(std::move(m)); }

private:
    Overlay& o_;
};

namespace {

std::string pending_key(const Message& m)
{
    std::string k = m.route_string();
    k.push_back('#');
    k += std::to_string(m.matchtag());
    return k;
}

void* attach_monitor(void* zctx, void* sock, const std::string& name)
{
    std::string ep = "inproc://monitor-" + name;
    if (zmq_socket_monitor(sock, ep.c_str(), ZMQ_EVENT_DISCONNECTED) < 0)
        return nullptr;
    void* mon = zmq_socket(zctx, ZMQ_PAIR);
    if (zmq_connect(mon, ep.c_str()) < 0) {
        zmq_close(mon);
        return nullptr;
    }
    return mon;
}

void close_socket(void*& s)
{
    if (!s)
        return;
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(s);
    s = nullptr;
}

}  // namespace

// ---- Overlay -------------------------------------------------------------------

Overlay::Overlay(Broker& b, void* zctx, uint32_t rank, Topology topo, double keepalive, double lost)
    : broker_(b), zctx_(zctx), rank_(rank), topo_(topo), keepalive_period_(keepalive), lost_timeout_(lost)
{
    for (uint32_t c : topo_.children(rank_)) {
        auto ch = std::make_unique<Child>();
        ch->rank = c;
        ch->ident = std::to_string(c);
        ch->peer = std::make_unique<ChildPeer>(*this, c);
        children_.emplace(c, std::move(ch));
    }
    auto p = topo_.parent(rank_);
    if (p)
        parent_ = std::make_unique<ParentPeer>(*this, *p);
}

Overlay::~Overlay()
{
    router_w_.reset();
    dealer_w_.reset();
    monitor_w_.reset();
    if (router_)
        zmq_socket_monitor(router_, nullptr, 0);
    if (dealer_)
        zmq_socket_monitor(dealer_, nullptr, 0);
    close_socket(monitor_);
    close_socket(router_);
    close_socket(dealer_);
}

Overlay::Child* Overlay::child(uint32_t rank)
{
    auto it = children_.find(rank);
    return it == children_.end() ? nullptr : it->second.get();
}

Result<std::string> Overlay::bind(const std::string& interface)
{
    if (children_.empty())
        return std::string();
    router_ = zmq_socket(zctx_, ZMQ_ROUTER);
    int one = 1;
    int64_t maxsize = static_cast<int64_t>(MAX_MESSAGE_SIZE);
    zmq_setsockopt(router_, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    // No ROUTER_HANDOVER: a second peer claiming a connected rank's identity
    // is ignored rather than allowed to take its place.
    zmq_setsockopt(router_, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    int hwm = 0;  // never drop: flow is bounded by the RPC pattern
    zmq_setsockopt(router_, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(router_, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    std::string ep = "tcp://" + interface + ":*";
    if (zmq_bind(router_, ep.c_str()) < 0)
        return fail(errno, fmt::format("cannot bind overlay on {}: {}", ep, zmq_strerror(errno)));
    char buf[256];
    size_t len = sizeof(buf);
    zmq_getsockopt(router_, ZMQ_LAST_ENDPOINT, buf, &len);
    endpoint_ = buf;
    router_w_ = broker_.reactor().zmq(router_, [this] { on_router(); });
    monitor_ = attach_monitor(zctx_, router_, fmt::format("{}-{}", rank_, static_cast<void*>(this)));
    if (monitor_)
        monitor_w_ = broker_.reactor().zmq(monitor_, [this] { on_monitor(); });
    return endpoint_;
}

Result<void> Overlay::connect(const std::string& parent_uri)
{
    dealer_ = zmq_socket(zctx_, ZMQ_DEALER);
    std::string id = std::to_string(rank_);
    zmq_setsockopt(dealer_, ZMQ_ROUTING_ID, id.data(), id.size());
    int64_t maxsize = static_cast<int64_t>(MAX_MESSAGE_SIZE);
    zmq_setsockopt(dealer_, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    int hwm = 0;
    zmq_setsockopt(dealer_, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(dealer_, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_connect(dealer_, parent_uri.c_str()) < 0)
        return fail(errno, fmt::format("cannot connect to parent {}: {}", parent_uri, zmq_strerror(errno)));
    dealer_w_ = broker_.reactor().zmq(dealer_, [this] { on_dealer(); });
    parent_seen_ = broker_.reactor().now();
    auto hello = Message::control(ctl_hello, rank_);
    hello.set_payload(broker_.attrs().get_or("hostname", ""));
    return send_parent(std::move(hello));
}

void Overlay::start()
{
    tick_ = broker_.reactor().timer(keepalive_period_, keepalive_period_, [this] { on_tick(); });
}

Result<void> Overlay::send_parent(Message&& m)
{
    if (!dealer_)
        return fail(EHOSTUNREACH, "no parent");
    sent_parent_ = broker_.reactor().now();
    return zmqutil::send(dealer_, m);
}

Result<void> Overlay::send_child(uint32_t rank, Message&& m)
{
    Child* c = child(rank);
    if (!c || !router_)
        return fail(EHOSTUNREACH, "no such child");
    bool tracked = m.is_request() && !m.has_flag(msgflag::noresponse);
    if (c->state != ChildState::online) {
        if (tracked)
            broker_.respond_error(m, EHOSTUNREACH, fmt::format("rank {} is unreachable", rank));
        return fail(EHOSTUNREACH, "child offline");
    }
    if (tracked) {
        Message copy;
        copy.type = m.type;
        copy.flags = m.flags;
        copy.topic = m.topic;
        copy.aux2 = m.aux2;
        copy.route = m.route;
        copy.has_route = true;
        c->pending.emplace(pending_key(m), std::move(copy));
    }
    auto r = zmqutil::send(router_, m, &c->ident);
    if (!r) {
        if (r.error().errnum == EHOSTUNREACH)
            set_child_state(*c, ChildState::lost, "send failed: peer disconnected");
        else if (tracked) {
            c->pending.erase(pending_key(m));
            broker_.respond_error(m, EHOSTUNREACH, fmt::format("rank {}: {}", rank, r.error().message()));
        }
    }
    return r;
}

Result<void> Overlay::send_toward(uint32_t target, Message&& m)
{
    auto c = topo_.child_toward(rank_, target);
    if (c)
        return send_child(*c, std::move(m));
    if (parent_)
        return send_parent(std::move(m));
    return fail(EHOSTUNREACH, "no route");
}

void Overlay::broadcast(const Message& ev)
{
    for (auto& [r, c] : children_) {
        if (c->state != ChildState::online)
            continue;
        auto res = zmqutil::send(router_, ev, &c->ident);
        if (!res && res.error().errnum == EHOSTUNREACH)
            set_child_state(*c, ChildState::lost, "send failed: peer disconnected");
    }
}

void Overlay::on_router()
{
    for (int i = 0; i < 256; i++) {
        auto f = zmqutil::recv_frames(router_);
        if (!f || !*f)
            return;
        auto& frames = **f;
        if (frames.size() < 2) {
            dropped_++;
            continue;
        }
        uint32_t r = 0;
        Child* c = nullptr;
        try {
            size_t pos = 0;
            r = static_cast<uint32_t>(std::stoul(frames[0], &pos));
            if (pos == frames[0].size())
                c = child(r);
        } catch (...) {
        }
        auto m = zmqutil::decode(frames, 1);
        if (!c || !m) {
            dropped_++;
            if (dropped_ == 1 || dropped_ % 1000 == 0)
                broker_.log(4, fmt::format("overlay: dropped {} bad message(s) from children, last: {}", dropped_,
                                           !c ? "unknown peer" : m.error().message()));
            continue;
        }
        c->last_seen = broker_.reactor().now();
        if (m->is_control()) {
            child_control(*c, *m);
            continue;
        }
        if (c->state != ChildState::online) {
            dropped_++;
            continue;
        }
        if (m->is_response() && !c->pending.empty()) {
            bool final = !m->has_flag(msgflag::streaming) || m->errnum() != 0;
            if (final)
                c->pending.erase(pending_key(*m));
        }
        broker_.receive(*c->peer, std::move(*m));
    }
}

void Overlay::child_control(Child& c, const Message& m)
{
    switch (m.aux1) {
        case ctl_hello:
            if (m.aux2 != c.rank) {
                dropped_++;
                return;
            }
            (void)zmqutil::send(router_, Message::control(ctl_hello, c.rank), &c.ident);
            c.hostname = m.payload;
            c.online.clear();
            (void)c.online.insert(c.rank);
            set_child_state(c, ChildState::online, "");
            if (shutting_down_)  // it came late: it leaves with the rest
                (void)zmqutil::send(router_, Message::control(ctl_shutdown, 0), &c.ident);
            break;
        case ctl_keepalive:
            if (c.state != ChildState::online)
                return;
            if (static_cast<SubtreeStatus>(m.aux2) != c.subtree) {
                c.subtree = static_cast<SubtreeStatus>(m.aux2);
                status_changed();
            }
            break;
        case ctl_goodbye:
            set_child_state(c, ChildState::gone, "");
            break;
        case ctl_online: {
            if (c.state != ChildState::online)
                return;
            auto ids = IdSet::parse(m.payload);
            // Only ranks of its own subtree count.
            IdSet allowed;
            (void)allowed.insert(c.rank);
            for (uint32_t d : topo_.descendants(c.rank))
                (void)allowed.insert(d);
            if (!ids || !(*ids - allowed).empty()) {
                dropped_++;
                return;
            }
            c.online = *ids;
            status_changed();
            break;
        }
        default:
            dropped_++;
            break;
    }
}

void Overlay::set_child_state(Child& c, ChildState st, const std::string& why)
{
    if (c.state == st)
        return;
    ChildState old = c.state;
    c.state = st;
    switch (st) {
        case ChildState::online:
            c.subtree = SubtreeStatus::unknown;
            broker_.add_peer(*c.peer);
            if (old == ChildState::lost)
                broker_.log(5, fmt::format("overlay: rank {} is back", c.rank));
            break;
        case ChildState::lost:
            c.subtree = SubtreeStatus::lost;
            broker_.log(shutting_down_ ? 7 : 3, fmt::format("overlay: broker on rank {} lost: {}", c.rank, why));
            [[fallthrough]];
        case ChildState::gone:
        case ChildState::offline:
            if (st != ChildState::lost)
                c.subtree = SubtreeStatus::offline;
            broker_.remove_peer(*c.peer);
            fail_pending(c);
            break;
    }
    status_changed();
    if (shutdown_done_) {
        bool any = false;
        for (auto& [r, ch] : children_)
            any = any || ch->state == ChildState::online;
        if (!any) {
            auto done = std::move(shutdown_done_);
            shutdown_done_ = nullptr;
            done();
        }
    }
}

void Overlay::fail_pending(Child& c)
{
    auto pending = std::move(c.pending);
    c.pending.clear();
    for (auto& [key, req] : pending) {
        Message err = Message::error_to(req, EHOSTUNREACH, fmt::format("rank {} is unreachable", c.rank));
        err.route = req.route;
        broker_.route_response(std::move(err));
    }
}

SubtreeStatus Overlay::subtree_status() const
{
    SubtreeStatus s = SubtreeStatus::full;
    for (const auto& [r, c] : children_) {
        switch (c->state) {
            case ChildState::lost:
                return SubtreeStatus::degraded;
            case ChildState::offline:
            case ChildState::gone:
                s = SubtreeStatus::partial;
                break;
            case ChildState::online:
                if (c->subtree == SubtreeStatus::degraded || c->subtree == SubtreeStatus::lost)
                    return SubtreeStatus::degraded;
                if (c->subtree != SubtreeStatus::full)
                    s = SubtreeStatus::partial;
                break;
        }
    }
    return s;
}

IdSet Overlay::online_set() const
{
    IdSet s;
    (void)s.insert(rank_);
    for (const auto& [r, c] : children_)
        if (c->state == ChildState::online)
            s |= c->online;
    return s;
}

void Overlay::status_changed()
{
    SubtreeStatus s = subtree_status();
    if (parent_ && joined_ && s != reported_) {
        reported_ = s;
        (void)send_parent(Message::control(ctl_keepalive, static_cast<uint32_t>(s)));
    }
    IdSet online = online_set();
    std::string enc = online.encode();
    if (enc != reported_online_) {
        reported_online_ = enc;
        if (parent_ && joined_) {
            Message m = Message::control(ctl_online, 0);
            m.set_payload(enc);
            (void)send_parent(std::move(m));
        }
        broker_.online_changed(online);
    }
    broker_.subtree_changed(s);
}

void Overlay::on_dealer()
{
    for (int i = 0; i < 256; i++) {
        auto f = zmqutil::recv_frames(dealer_);
        if (!f || !*f)
            return;
        auto m = zmqutil::decode(**f);
        if (!m) {
            dropped_++;
            continue;
        }
        parent_seen_ = broker_.reactor().now();
        if (m->is_control()) {
            switch (m->aux1) {
                case ctl_hello:
                    if (!joined_) {
                        joined_ = true;
                        broker_.add_peer(*parent_);
                        reported_ = subtree_status();
                        (void)send_parent(Message::control(ctl_keepalive, static_cast<uint32_t>(reported_)));
                        reported_online_.clear();
                        status_changed();  // report who is online below us
                        broker_.joined();
                    }
                    break;
                case ctl_keepalive:
                    break;
                case ctl_shutdown:
                    broker_.parent_requested_shutdown();
                    break;
                default:
                    dropped_++;
                    break;
            }
            continue;
        }
        if (!joined_) {
            dropped_++;
            continue;
        }
        broker_.receive(*parent_, std::move(*m));
    }
}

void Overlay::on_monitor()
{
    for (int i = 0; i < 64; i++) {
        auto f = zmqutil::recv_frames(monitor_);
        if (!f || !*f)
            return;
    }
    // A connection dropped: take what the children sent first (a goodbye
    // must win over the disconnect), then find out who is gone.
    on_router();
    probe_children();
    probe_timer_ = broker_.reactor().timer(0.1, 0, [this] { probe_children(); });
}

void Overlay::probe_children()
{
    for (auto& [r, c] : children_) {
        if (c->state != ChildState::online)
            continue;
        auto res = zmqutil::send(router_, Message::control(ctl_keepalive, 0), &c->ident);
        if (!res && res.error().errnum == EHOSTUNREACH)
            set_child_state(*c, ChildState::lost, "connection closed");
    }
}

void Overlay::on_tick()
{
    double now = broker_.reactor().now();
    if (parent_ && !joined_ && now - parent_seen_ > lost_timeout_) {
        broker_.log(2, fmt::format("overlay: parent did not answer our hello in {:.1f}s", now - parent_seen_));
        broker_.parent_lost();
        return;
    }
    if (parent_ && joined_) {
        if (now - sent_parent_ >= keepalive_period_ * 0.9)
            (void)send_parent(Message::control(ctl_keepalive, static_cast<uint32_t>(subtree_status())));
        if (now - parent_seen_ > lost_timeout_) {
            broker_.log(2, fmt::format("overlay: no word from parent for {:.1f}s", now - parent_seen_));
            broker_.parent_lost();
            return;
        }
    }
    for (auto& [r, c] : children_) {
        if (c->state != ChildState::online)
            continue;
        if (now - c->last_seen > lost_timeout_) {
            set_child_state(*c, ChildState::lost, fmt::format("no keepalive for {:.1f}s", now - c->last_seen));
            continue;
        }
        auto res = zmqutil::send(router_, Message::control(ctl_keepalive, 0), &c->ident);
        if (!res && res.error().errnum == EHOSTUNREACH)
            set_child_state(*c, ChildState::lost, "connection closed");
    }
}

void Overlay::shutdown_children(std::function<void()> done)
{
    shutting_down_ = true;
    bool any = false;
    for (auto& [r, c] : children_) {
        if (c->state != ChildState::online)
            continue;
        any = true;
        (void)zmqutil::send(router_, Message::control(ctl_shutdown, 0), &c->ident);
    }
    if (!any) {
        done();
        return;
    }
    shutdown_done_ = std::move(done);
}

void Overlay::say_goodbye()
{
    if (parent_ && joined_)
        (void)send_parent(Message::control(ctl_goodbye, rank_));
}

Overlay::ChildState Overlay::child_state(uint32_t rank) const
{
    auto it = children_.find(rank);
    return it == children_.end() ? ChildState::offline : it->second->state;
}

std::string Overlay::child_hostname(uint32_t rank) const
{
    auto it = children_.find(rank);
    return it == children_.end() ? std::string() : it->second->hostname;
}

SubtreeStatus Overlay::child_subtree(uint32_t rank) const
{
    auto it = children_.find(rank);
    return it == children_.end() ? SubtreeStatus::unknown : it->second->subtree;
}

}  // namespace flux::broker
