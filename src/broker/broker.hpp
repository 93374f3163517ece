// The broker: routes messages between clients, modules and the overlay,
// hosts the built-in services, and runs the instance life cycle.
// Design: doc/dev/architecture.md; built-in services: doc/dev/services.md.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <flux/message.hpp>
#include <flux/reactor.hpp>

#include "attr.hpp"
#include "logbuf.hpp"
#include "overlay.hpp"
#include "peer.hpp"

namespace flux {
class Handle;
}

namespace flux::broker {

class LocalServer;
class ModuleHost;
class Rexec;

struct Options {
    std::vector<std::pair<std::string, std::string>> setattrs;  // -S NAME=VALUE
    std::string config_path;                                    // -c
    std::vector<std::string> conf_overrides;                    // --conf KEY=VAL
    std::vector<std::string> initial_program;                   // rank 0 runs this
    int verbose = 0;
};

class Broker {
public:
    /// Life cycle states (flux-broker(1)): join -> init -> quorum -> run ->
    /// cleanup -> shutdown -> finalize -> exit.
    enum class State { join, init, quorum, run, cleanup, shutdown, finalize, exit };

    explicit Broker(Options opts);
    ~Broker();
    /// Bootstrap, run the event loop, shut down. Returns the exit code.
    int run();

    // --- routing (called by peers) --------------------------------------
    void receive(Peer& from, Message&& m);
    void route_request(Message&& m, Peer* from);
    void route_response(Message&& m);
    void respond(const Message& req, std::string payload = {});
    void respond_error(const Message& req, int errnum, std::string text = {});
    void add_peer(Peer& p);
    void remove_peer(Peer& p);
    Result<void> service_add(const std::string& name, Peer* p);
    void service_remove(const std::string& name, Peer* p);

    // --- events ---------------------------------------------------------------
    /// Rank 0: sequence and distribute an event. Returns its sequence number.
    uint32_t publish(Message ev);
    void distribute_event(const Message& ev);

    // --- overlay callbacks ------------------------------------------------------
    void joined();
    void init_done();
    void subtree_changed(SubtreeStatus s);
    void parent_lost();
    void parent_requested_shutdown();
    /// The online ranks of this broker's subtree changed.
    void online_changed(const IdSet& online);

    // --- life cycle ---------------------------------------------------------------
    void begin_shutdown(const std::string& why, int exit_code = -1);

    void log(int level, std::string text, const std::string& name = "broker");

    Reactor& reactor() { return reactor_; }
    Attributes& attrs() { return attrs_; }
    const nlohmann::json& config() const;
    uint32_t rank() const { return rank_; }
    uint32_t size() const { return size_; }
    void* zctx() const { return zctx_; }
    uint32_t owner() const { return owner_; }
    State state() const { return state_; }
    double start_time() const { return start_time_; }
    const char* state_name() const;
    Overlay& overlay() { return *overlay_; }
    ModuleHost& modules() { return *modules_; }
    LocalServer& local_server() { return *local_; }
    /// The environment of a process started here: `env`, or the broker's
    /// own when empty, with FLUX_URI naming this broker.
    std::vector<std::string> child_environment(std::vector<std::string> env = {}) const;

private:
    using Handler = void (Broker::*)(const Message&);
    struct Builtin {
        Handler fn;
        uint32_t rolemask;
    };

    Result<void> bootstrap();
    Result<void> load_config();
    void set_state(State s);
    void deliver(Peer* to, Message&& m);
    void deliver_builtin(Message&& m);
    void start_initial_program();
    void shutdown_children();
    void finish_shutdown();
    void do_finish_shutdown();
    Result<void> setup_attrs();
    Result<void> join_parent_instance();
    Result<void> fetch_job_R();
    void post_uri_memo();

    // built-in services (services.cpp); the table is at the bottom of it
    static const std::unordered_map<std::string, Builtin>& handler_table();
    void ping(const Message& m);
    void attr_get(const Message& m);
    void attr_set(const Message& m);
    void attr_rm(const Message& m);
    void attr_list(const Message& m);
    void log_append(const Message& m);
    void log_dmesg(const Message& m);
    void log_clear(const Message& m);
    void event_pub(const Message& m);
    void event_subscribe(const Message& m);
    void event_unsubscribe(const Message& m);
    void service_add_req(const Message& m);
    void service_remove_req(const Message& m);
    void module_load(const Message& m);
    void module_remove(const Message& m);
    void module_list(const Message& m);
    void broker_shutdown(const Message& m);
    void broker_info(const Message& m);
    void config_get(const Message& m);
    void overlay_health(const Message& m);
    void overlay_stats(const Message& m);
    void overlay_monitor(const Message& m);
    void overlay_disconnect(const Message& m);
    void rexec_exec(const Message& m);
    void rexec_kill(const Message& m);
    void rexec_write(const Message& m);
    void rexec_list(const Message& m);
    void rexec_disconnect(const Message& m);
    void dmesg_follow_push(const LogEntry& e);

    Options opts_;
    Reactor reactor_;
    Attributes attrs_;
    std::unique_ptr<nlohmann::json> config_;
    LogBuf logbuf_;
    void* zctx_ = nullptr;
    uint32_t rank_ = 0;
    uint32_t size_ = 1;
    uint32_t owner_ = 0;
    State state_ = State::join;
    double start_time_ = 0;
    int log_level_ = 6;
    int stderr_level_ = 3;
    int forward_level_ = 7;
    double shutdown_timeout_ = 30;
    std::unique_ptr<Overlay> overlay_;
    std::unique_ptr<LocalServer> local_;
    std::unique_ptr<ModuleHost> modules_;
    std::unique_ptr<Rexec> rexec_;
    std::unique_ptr<Handle> parent_;  // the enclosing instance, while we start as its job
    uint64_t jobid_ = 0;              // our job's id there
    // The broker's own requests (job-manager.quiesce at shutdown) come
    // from this peer, and their responses go to its callback.
    struct SelfPeer final : Peer {
        SelfPeer() : Peer(Kind::self, "~broker") {}
        void send(Message&& m) override
        {
            auto cb = std::move(on_response);
            on_response = nullptr;
            if (m.is_response() && cb)
                cb(m);
        }
        std::function<void(const Message&)> on_response;
    };
    SelfPeer self_;
    std::unordered_map<std::string, Peer*> peers_;     // route hop id -> peer
    std::unordered_map<std::string, Peer*> services_;  // service -> peer (nullptr = built in)
    std::vector<Message> dmesg_followers_;
    std::vector<Message> online_monitors_;
    std::string online_;
    uint32_t event_seq_ = 0;
    uint32_t last_event_seq_ = 0;
    pid_t initial_pid_ = -1;
    WatcherPtr initial_w_;
    WatcherPtr sigint_w_, sigterm_w_;
    TimerPtr shutdown_timer_;
    TimerPtr quiesce_timer_;
    TimerPtr initial_kill_timer_;
    bool children_gone_ = false;
    bool finish_scheduled_ = false;
    int exit_code_ = 0;
    bool exit_code_set_ = false;
    bool shutdown_started_ = false;
};

}  // namespace flux::broker
