// The tree-based overlay network (TBON): a ZeroMQ ROUTER for children, a
// DEALER to the parent, liveness of peers, and routing by rank.
// Control protocol: doc/dev/overlay.md.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <flux/idset.hpp>
#include <flux/message.hpp>
#include <flux/reactor.hpp>

#include "peer.hpp"

namespace flux::broker {

class Broker;

/// k-ary tree arithmetic over ranks 0..size-1.
struct Topology {
    uint32_t size = 1;
    uint32_t fanout = 2;

    std::optional<uint32_t> parent(uint32_t rank) const;
    std::vector<uint32_t> children(uint32_t rank) const;
    /// The child of `rank` whose subtree holds `target`, if any.
    std::optional<uint32_t> child_toward(uint32_t rank, uint32_t target) const;
    /// All ranks below `rank` (not including it).
    std::vector<uint32_t> descendants(uint32_t rank) const;
};

/// Control message types on the overlay (RFC 3 control messages).
enum OverlayCtl : uint32_t {
    ctl_hello = 1,      // child -> parent: status = child's rank; parent echoes it to accept
    ctl_keepalive = 2,  // both ways: status = sender's subtree status
    ctl_shutdown = 3,   // parent -> child: leave the instance
    ctl_goodbye = 4,    // child -> parent: leaving now (not lost)
    ctl_online = 5,     // child -> parent: payload = idset of online ranks in its subtree
};

enum class SubtreeStatus : uint32_t { unknown = 0, full = 1, partial = 2, degraded = 3, lost = 4, offline = 5 };
const char* subtree_status_name(SubtreeStatus s);

class Overlay {
public:
    enum class ChildState { offline, online, lost, gone };

    /// `keepalive` seconds between keepalives; a peer silent for `lost`
    /// seconds is lost.
    Overlay(Broker& b, void* zctx, uint32_t rank, Topology topo, double keepalive, double lost);
    ~Overlay();

    /// Bind the children's socket (only when this rank has children).
    /// `interface` is an IP address or "*"; returns the endpoint URI.
    Result<std::string> bind(const std::string& interface);
    /// Connect to the parent and say hello.
    Result<void> connect(const std::string& parent_uri);

    /// Route a request/response/event towards rank `target` (a child's
    /// subtree or the parent). Undeliverable requests are answered with
    /// EHOSTUNREACH by the broker.
    Result<void> send_toward(uint32_t target, Message&& m);
    Result<void> send_parent(Message&& m);
    Result<void> send_child(uint32_t child, Message&& m);
    /// Send an event to every online child.
    void broadcast(const Message& ev);

    /// Graceful exit: ask children to leave; `done` runs when none remains.
    void shutdown_children(std::function<void()> done);
    void say_goodbye();
    /// Begin keepalives; the reactor must be running.
    void start();

    bool has_parent() const { return parent_ != nullptr; }
    bool joined() const { return joined_; }
    SubtreeStatus subtree_status() const;
    /// Ranks online in this broker's subtree, itself included.
    IdSet online_set() const;
    const Topology& topology() const { return topo_; }
    uint32_t rank() const { return rank_; }
    ChildState child_state(uint32_t child) const;
    SubtreeStatus child_subtree(uint32_t child) const;
    /// The hostname a child gave in its hello ("" if it never joined).
    std::string child_hostname(uint32_t child) const;
    std::vector<uint32_t> children() const { return topo_.children(rank_); }
    size_t dropped() const { return dropped_; }
    const std::string& endpoint() const { return endpoint_; }

private:
    struct Child;
    class ChildPeer;
    class ParentPeer;

    void on_router();
    void on_dealer();
    void on_monitor();
    void on_tick();
    void probe_children();
    void child_control(Child& c, const Message& m);
    void set_child_state(Child& c, ChildState st, const std::string& why);
    void fail_pending(Child& c);
    void status_changed();
    Child* child(uint32_t rank);

    Broker& broker_;
    void* zctx_;
    uint32_t rank_;
    Topology topo_;
    double keepalive_period_;
    double lost_timeout_;
    void* router_ = nullptr;
    void* dealer_ = nullptr;
    void* monitor_ = nullptr;
    std::string endpoint_;
    WatcherPtr router_w_, dealer_w_, monitor_w_;
    TimerPtr tick_, probe_timer_;
    std::map<uint32_t, std::unique_ptr<Child>> children_;
    std::unique_ptr<ParentPeer> parent_;
    bool joined_ = false;
    double parent_seen_ = 0;
    double sent_parent_ = 0;
    SubtreeStatus reported_ = SubtreeStatus::unknown;
    std::string reported_online_;
    std::function<void()> shutdown_done_;
    bool shutting_down_ = false;
    size_t dropped_ = 0;
};

}  // namespace flux::broker
