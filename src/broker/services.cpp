// Built-in broker services: attr, log, event, service, module, broker,
// overlay, rexec. The handler table is at the bottom of this file.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "broker.hpp"
#include "module_host.hpp"
#include "rexec.hpp"

namespace flux::broker {

using json = nlohmann::json;

namespace {

// Parse a request payload as a JSON object; answers EPROTO on failure.
bool parse_req(Broker& b, const Message& m, json& out)
{
    try {
        out = m.payload.empty() ? json::object() : json::parse(m.payload);
        if (!out.is_object())
            throw std::runtime_error("payload is not a JSON object");
        return true;
    } catch (const std::exception& e) {
        b.respond_error(m, EPROTO, fmt::format("{}: malformed payload: {}", m.topic, e.what()));
        return false;
    }
}

template <class T>
bool get_field(Broker& b, const Message& m, const json& j, const char* key, T& out)
{
    try {
        out = j.at(key).get<T>();
        return true;
    } catch (const std::exception&) {
        b.respond_error(m, EPROTO, fmt::format("{}: missing or invalid '{}'", m.topic, key));
        return false;
    }
}

json log_entry_json(const LogEntry& e)
{
    return {{"seq", e.seq},           {"timestamp", e.timestamp}, {"level", e.level},    {"rank", e.rank},
            {"hostname", e.hostname}, {"name", e.name},           {"message", e.message}};
}

}  // namespace

void Broker::ping(const Message& m)
{
    json out = json::object();
    try {
        if (!m.payload.empty())
            out = json::parse(m.payload);
    } catch (...) {
    }
    out["route"] = m.route_string() + "!" + std::to_string(rank_);
    respond(m, out.dump());
}

// ---- attr ----------------------------------------------------------------------

void Broker::attr_get(const Message& m)
{
    json j;
    std::string name;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "name", name))
        return;
    auto v = attrs_.get(name);
    if (!v) {
        respond_error(m, ENOENT);
        return;
    }
    respond(m, json{{"value", *v}, {"flags", attrs_.flags(name)}}.dump());
}

void Broker::attr_set(const Message& m)
{
    json j;
    std::string name, value;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "name", name) || !get_field(*this, m, j, "value", value))
        return;
    if (name == "log-level" || name == "log-stderr-level" || name == "log-forward-level") {
        int l = parse_level(value);
        if (l < 0) {
            respond_error(m, EINVAL, fmt::format("{}: invalid log level '{}'", name, value));
            return;
        }
        (name == "log-level" ? log_level_ : name == "log-stderr-level" ? stderr_level_ : forward_level_) = l;
    } else if (name == "log-ring-size") {
        char* end = nullptr;
        unsigned long n = std::strtoul(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || n < 1 || n > 10000000) {
            respond_error(m, EINVAL, fmt::format("{}: invalid size '{}'", name, value));
            return;
        }
        logbuf_.set_capacity(n);
    }
    if (auto r = attrs_.set_runtime(name, value); !r) {
        respond_error(m, r.error().errnum, r.error().text);
        return;
    }
    respond(m);
}

void Broker::attr_rm(const Message& m)
{
    json j;
    std::string name;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "name", name))
        return;
    if (auto r = attrs_.remove(name); !r) {
        respond_error(m, r.error().errnum, r.error().text);
        return;
    }
    respond(m);
}

void Broker::attr_list(const Message& m)
{
    json names = json::array();
    json values = json::object();
    for (const auto& [k, v] : attrs_.list()) {
        names.push_back(k);
        values[k] = v;
    }
    respond(m, json{{"names", names}, {"values", values}}.dump());
}

// ---- log -------------------------------------------------------------------------

void Broker::log_append(const Message& m)
{
    json j;
    if (!parse_req(*this, m, j))
        return;
    try {
        int level = j.value("level", 6);
        std::string text = j.value("message", "");
        std::string name = j.value("name", "client");
        auto from = peers_.find(m.route.empty() ? "" : m.route.back());
        bool from_child = from != peers_.end() && from->second->kind == Peer::Kind::child;
        if (j.value("forwarded", false) && rank_ == 0 && from_child) {
            LogEntry e;
            e.timestamp = j.value("timestamp", 0.0);
            e.level = level;
            e.rank = j.value("rank", 0u);
            e.hostname = j.value("hostname", "");
            e.name = name;
            e.message = text;
            if (level <= stderr_level_)
                log_to_stderr(e);
            logbuf_.append(std::move(e));
            if (!dmesg_followers_.empty())
                dmesg_follow_push(logbuf_.entries().back());
            return;
        }
        if (level < 0 || level > 7) {
            respond_error(m, EINVAL, fmt::format("log.append: invalid level {}", level));
            return;
        }
        log(level, text, name);
        respond(m);
    } catch (const std::exception& e) {
        respond_error(m, EPROTO, fmt::format("log.append: {}", e.what()));
    }
}

void Broker::log_dmesg(const Message& m)
{
    json j;
    if (!parse_req(*this, m, j))
        return;
    if (!m.has_flag(msgflag::streaming)) {
        respond_error(m, EPROTO, "log.dmesg requires a streaming request");
        return;
    }
    bool follow = j.value("follow", false);
    for (const auto& e : logbuf_.entries())
        respond(m, log_entry_json(e).dump(-1, ' ', false, json::error_handler_t::replace));
    if (follow)
        dmesg_followers_.push_back(m);
    else
        respond_error(m, ENODATA);
}

void Broker::dmesg_follow_push(const LogEntry& e)
{
    std::string payload = log_entry_json(e).dump(-1, ' ', false, json::error_handler_t::replace);
    auto followers = dmesg_followers_;  // responding may drop a follower
    for (const auto& f : followers)
        respond(f, payload);
}

void Broker::log_clear(const Message& m)
{
    logbuf_.clear();
    respond(m);
}

// ---- event -----------------------------------------------------------------------

void Broker::event_pub(const Message& m)
{
    if (rank_ != 0) {
        Message fwd = m;
        (void)overlay_->send_parent(std::move(fwd));
        return;
    }
    json j;
    std::string topic;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "topic", topic))
        return;
    if (topic.empty()) {
        respond_error(m, EINVAL, "event.pub: empty topic");
        return;
    }
    Message ev = Message::event(topic);
    if (j.contains("payload") && j["payload"].is_string())
        ev.set_payload(j["payload"].get<std::string>());
    ev.userid = m.userid;
    ev.rolemask = m.rolemask;
    uint8_t flags = j.value("flags", 0);
    ev.flags = flags & msgflag::private_;
    if (!(m.rolemask & role::owner))
        ev.flags |= msgflag::private_;  // a guest's events reach only the owner and that guest
    uint32_t seq = publish(std::move(ev));
    respond(m, json{{"seq", seq}}.dump());
}

void Broker::event_subscribe(const Message& m)
{
    json j;
    std::string topic;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "topic", topic))
        return;
    auto it = peers_.find(m.route.empty() ? "" : m.route.back());
    if (it == peers_.end() || (it->second->kind != Peer::Kind::client && it->second->kind != Peer::Kind::module)) {
        respond_error(m, EPROTO, "event.subscribe must come from a local client or module");
        return;
    }
    it->second->subs.push_back(topic);
    respond(m);
}

void Broker::event_unsubscribe(const Message& m)
{
    json j;
    std::string topic;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "topic", topic))
        return;
    auto it = peers_.find(m.route.empty() ? "" : m.route.back());
    if (it != peers_.end()) {
        auto& subs = it->second->subs;
        for (auto s = subs.begin(); s != subs.end(); ++s) {
            if (*s == topic) {
                subs.erase(s);
                break;
            }
        }
    }
    respond(m);
}

// ---- service -----------------------------------------------------------------------

void Broker::service_add_req(const Message& m)
{
    json j;
    std::string name;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "service", name))
        return;
    auto it = peers_.find(m.route.empty() ? "" : m.route.back());
    if (it == peers_.end() || (it->second->kind != Peer::Kind::client && it->second->kind != Peer::Kind::module)) {
        respond_error(m, EPROTO, "service.add must come from a local client or module");
        return;
    }
    if (auto r = service_add(name, it->second); !r) {
        respond_error(m, r.error().errnum, r.error().text);
        return;
    }
    respond(m);
}

void Broker::service_remove_req(const Message& m)
{
    json j;
    std::string name;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "service", name))
        return;
    auto it = peers_.find(m.route.empty() ? "" : m.route.back());
    auto s = services_.find(name);
    if (s == services_.end() || it == peers_.end() || s->second != it->second) {
        respond_error(m, ENOENT, fmt::format("service '{}' is not registered by this client", name));
        return;
    }
    services_.erase(s);
    respond(m);
}

// ---- module --------------------------------------------------------------------------

void Broker::module_load(const Message& m)
{
    json j;
    std::string path;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "path", path))
        return;
    std::vector<std::string> args;
    if (j.contains("args")) {
        try {
            args = j["args"].get<std::vector<std::string>>();
        } catch (...) {
            respond_error(m, EPROTO, "module.load: 'args' must be an array of strings");
            return;
        }
    }
    modules_->load(path, std::move(args), &m);
}

void Broker::module_remove(const Message& m)
{
    json j;
    std::string name;
    if (!parse_req(*this, m, j) || !get_field(*this, m, j, "name", name))
        return;
    modules_->remove(name, &m);
}

void Broker::module_list(const Message& m)
{
    respond(m, fmt::format("{{\"mods\":{}}}", modules_->list_json()));
}

// ---- config ------------------------------------------------------------------------------

void Broker::config_get(const Message& m)
{
    respond(m, config().dump(-1, ' ', false, json::error_handler_t::replace));
}

// ---- broker ------------------------------------------------------------------------------

void Broker::broker_shutdown(const Message& m)
{
    if (rank_ != 0) {
        respond_error(m, EINVAL, "shutdown must be requested of rank 0");
        return;
    }
    respond(m);
    json j;
    try {
        j = m.payload.empty() ? json::object() : json::parse(m.payload);
    } catch (...) {
    }
    begin_shutdown("shutdown requested", -1);
}

void Broker::broker_info(const Message& m)
{
    respond(m, json{{"rank", rank_},
                    {"size", size_},
                    {"state", state_name()},
                    {"uptime", reactor_.now() - start_time_},
                    {"owner", owner_},
                    {"instance-level", attrs_.get_or("instance-level", "0")},
                    {"jobid", attrs_.get_or("jobid", "")}}
                   .dump());
}

// ---- overlay ------------------------------------------------------------------------------

void Broker::overlay_health(const Message& m)
{
    json kids = json::array();
    for (uint32_t c : overlay_->children()) {
        const char* st = "offline";
        switch (overlay_->child_state(c)) {
            case Overlay::ChildState::online:
                st = subtree_status_name(overlay_->child_subtree(c));
                break;
            case Overlay::ChildState::lost:
                st = "lost";
                break;
            default:
                break;
        }
        kids.push_back({{"rank", c}, {"status", st}, {"hostname", overlay_->child_hostname(c)}});
    }
    respond(m, json{{"rank", rank_},
                    {"hostname", attrs_.get_or("hostname", "")},
                    {"status", subtree_status_name(overlay_->subtree_status())},
                    {"children", kids}}
                   .dump(-1, ' ', false, json::error_handler_t::replace));
}

void Broker::overlay_stats(const Message& m)
{
    respond(m, json{{"rank", rank_},
                    {"fanout", overlay_->topology().fanout},
                    {"size", size_},
                    {"parent", overlay_->topology().parent(rank_).value_or(UINT32_MAX)},
                    {"children", overlay_->children()},
                    {"dropped", overlay_->dropped()}}
                   .dump());
}

// Streaming: the online ranks of this broker's subtree now and on each change.
void Broker::overlay_monitor(const Message& m)
{
    if (!m.has_flag(msgflag::streaming)) {
        respond_error(m, EPROTO, "overlay.monitor requires a streaming request");
        return;
    }
    respond(m, fmt::format("{{\"online\":\"{}\"}}", overlay_->online_set().encode()));
    online_monitors_.push_back(m);
}

void Broker::overlay_disconnect(const Message& m)
{
    std::erase_if(online_monitors_, [&](const Message& f) { return f.route == m.route; });
}

// ---- rexec ---------------------------------------------------------------------------------

void Broker::rexec_exec(const Message& m)
{
    rexec_->exec(m);
}

void Broker::rexec_kill(const Message& m)
{
    rexec_->kill(m);
}

void Broker::rexec_write(const Message& m)
{
    rexec_->write(m);
}

void Broker::rexec_list(const Message& m)
{
    rexec_->list(m);
}

void Broker::rexec_disconnect(const Message& m)
{
    rexec_->disconnect(m);
}

// ---- the handler table ---------------------------------------------------------------------

const std::unordered_map<std::string, Broker::Builtin>& Broker::handler_table()
{
    constexpr uint32_t owner = role::owner;
    constexpr uint32_t anyone = role::all;
    static const std::unordered_map<std::string, Builtin> table = {
        {"attr.get", {&Broker::attr_get, anyone}},
        {"attr.list", {&Broker::attr_list, anyone}},
        {"attr.set", {&Broker::attr_set, owner}},
        {"attr.rm", {&Broker::attr_rm, owner}},
        {"log.append", {&Broker::log_append, anyone}},
        {"log.dmesg", {&Broker::log_dmesg, owner}},
        {"log.clear", {&Broker::log_clear, owner}},
        {"event.pub", {&Broker::event_pub, anyone}},
        {"event.subscribe", {&Broker::event_subscribe, anyone}},
        {"event.unsubscribe", {&Broker::event_unsubscribe, anyone}},
        {"service.add", {&Broker::service_add_req, owner}},
        {"service.remove", {&Broker::service_remove_req, owner}},
        {"module.load", {&Broker::module_load, owner}},
        {"module.remove", {&Broker::module_remove, owner}},
        {"module.list", {&Broker::module_list, anyone}},
        {"broker.shutdown", {&Broker::broker_shutdown, owner}},
        {"broker.info", {&Broker::broker_info, anyone}},
        {"config.get", {&Broker::config_get, owner}},
        {"overlay.health", {&Broker::overlay_health, anyone}},
        {"overlay.stats", {&Broker::overlay_stats, anyone}},
        {"overlay.monitor", {&Broker::overlay_monitor, anyone}},
        {"overlay.disconnect", {&Broker::overlay_disconnect, anyone}},
        {"rexec.exec", {&Broker::rexec_exec, owner}},
        {"rexec.kill", {&Broker::rexec_kill, owner}},
        {"rexec.write", {&Broker::rexec_write, owner}},
        {"rexec.list", {&Broker::rexec_list, owner}},
        {"rexec.disconnect", {&Broker::rexec_disconnect, owner}},
    };
    return table;
}

}  // namespace flux::broker
