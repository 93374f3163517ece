// Remote execution service (rexec.*): run processes on this broker's node
// for the instance owner, streaming their output back. Protocol:
// doc/dev/rexec.md. flux exec uses it; job-exec will start shells with it.
#pragma once

#include <map>
#include <memory>
#include <string>

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

private:
    void finish(Proc& p);
    void flush_stdin(Proc& p);
    Proc* find(int pid);

    Broker& broker_;
    std::map<int, std::unique_ptr<Proc>> procs_;
};

}  // namespace flux::broker
