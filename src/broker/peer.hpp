// Anything the broker exchanges messages with: a client, a module, a child
// or parent broker, or the broker itself.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <flux/message.hpp>

namespace flux::broker {

struct Peer {
    enum class Kind { client, module, child, parent, self };

    Peer(Kind k, std::string i) : kind(k), id(std::move(i)) {}
    virtual ~Peer() = default;
    /// Hand a message to the peer. Never blocks; a peer that cannot take it
    /// buffers it or drops it and counts the loss.
    virtual void send(Message&& m) = 0;

    bool subscribed(const std::string& topic) const
    {
        for (const auto& p : subs)
            if (topic.compare(0, p.size(), p) == 0)
                return true;
        return false;
    }

    Kind kind;
    std::string id;  // the hop name pushed on the route stack
    uint32_t userid = USERID_UNKNOWN;
    uint32_t rolemask = role::none;
    std::vector<std::string> subs;  // event topic prefixes
    /// (service, nodeid) pairs this client/module sent requests to: each
    /// gets a SERVICE.disconnect when the peer goes away.
    std::set<std::pair<std::string, uint32_t>> used;
};

}  // namespace flux::broker
