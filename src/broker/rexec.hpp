// Remote execution service (rexec.*): run processes on this broker's node
// for the instance owner, streaming their output back. Protocol:
// doc/dev/rexec.md. flux exec uses it; job-exec starts job shells with it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <flux/message.hpp>

namespace flux::broker {

class Broker;

class Rexec {
public:
    explicit Rexec(Broker& b);
    ~Rexec();
    void exec(const Message& req);
    void kill(const Message& req);
    void write(const Message& req);
    void list(const Message& req);
    /// A client went away: kill what it started here (matched by route).
    void disconnect(const Message& req);
    /// A peer went away: signal the processes it started.
    void peer_gone(const std::string& id);
    void kill_all();

    struct Proc;
    struct Zygote;

private:
    void started(std::unique_ptr<Proc> p);
    void finish(Proc& p);
    void exited(Proc& p, int status);
    void never_started(Proc& p, int errnum, const std::string& text);
    void flush_stdin(Proc& p);
    Proc* find(int pid);
    // Job shells forked by a warm `flux-shell --zygote` (requests with
    // "zygote": true); false if it cannot be used, to spawn instead.
    // fds: stdin, stdout, stderr and the shell's connection to us; `data`
    // (when not null) is handed to the shell in-process. An empty `env`:
    // the shell keeps the zygote's (Broker::child_environment()).
    bool zygote_spawn(std::unique_ptr<Proc>& p, const std::vector<std::string>& argv,
                      const std::vector<std::string>& env, const std::string& cwd, const nlohmann::json& data,
                      const int fds[4]);
    bool zygote_start(const std::string& path);
    void zygote_input();
    void zygote_lost();

    Broker& broker_;
    std::map<int, std::unique_ptr<Proc>> procs_;
    std::unique_ptr<Zygote> zygote_;
};

}  // namespace flux::broker
