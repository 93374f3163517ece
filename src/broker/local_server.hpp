// The local connector's server side: a UNIX socket in the rundir, one
// client peer per connection, credentials from SO_PEERCRED (RFC 3, RFC 12).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <flux/error.hpp>
#include <flux/reactor.hpp>

namespace flux::broker {

class Broker;

class LocalServer {
public:
    /// `allow_guests`: let users other than the instance owner connect
    /// (access.allow-guest-user); they get only the user role.
    LocalServer(Broker& b, std::string path, bool allow_guests);
    ~LocalServer();
    Result<void> listen();
    /// Serve one end of a socketpair whose other end the broker hands to a
    /// process it starts as the instance owner (a job shell from the
    /// zygote): a client like an accepted one, without the greeting.
    /// Returns the client's id.
    uint64_t adopt(int fd);
    /// Route everything the client `id` has sent that is still unread (its
    /// process has exited: see Rexec::exited). No-op for a closed client.
    void read_all(uint64_t id);
    /// Close the client `id` (an adopted one whose process never started).
    void drop(uint64_t id) { close_client(id); }
    size_t clients() const { return clients_.size(); }

    class Client;

private:
    void on_accept();
    uint64_t add_client(int fd, uint32_t uid, uint32_t roles);
    void close_client(uint64_t id);

    Broker& broker_;
    std::string path_;
    bool allow_guests_;
    int fd_ = -1;
    WatcherPtr w_;
    uint64_t next_id_ = 1;
    std::map<uint64_t, std::unique_ptr<Client>> clients_;
    friend class Client;
};

}  // namespace flux::broker
