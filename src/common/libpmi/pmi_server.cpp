// PMI-1 wire codec and server state machine (RFC 13); see include/flux/pmi.hpp.
#include "flux/pmi.hpp"

#include <charconv>
#include <system_error>

namespace flux {

namespace {

bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

// A key as the server accepts it: a non-empty word without '=' that fits keylen_max.
bool valid_key(std::string_view key)
{
    return !key.empty() && pmi_is_word(key) && key.find('=') == std::string_view::npos &&
           key.size() < static_cast<std::size_t>(pmi_keylen_max);
}

bool valid_value(std::string_view value)
{
    return pmi_is_word(value) && value.size() < static_cast<std::size_t>(pmi_vallen_max);
}

std::string rc_fail(std::string_view cmd, std::string_view why)
{
    std::string s = "cmd=";
    s += cmd;
    s += " rc=-1 msg=";
    s += why;
    s += '\n';
    return s;
}

}  // namespace

bool pmi_is_word(std::string_view s)
{
    return s.find_first_of(" \t\r\n") == std::string_view::npos;
}

Result<PmiMessage> PmiMessage::parse(std::string_view line)
{
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    PmiMessage msg;
    std::size_t pos = 0;
    while (pos < line.size()) {
        if (is_space(line[pos])) {
            ++pos;
            continue;
        }
        std::size_t end = pos;
        while (end < line.size() && !is_space(line[end]))
            ++end;
        std::string_view token = line.substr(pos, end - pos);
        pos = end;
        std::size_t eq = token.find('=');
        if (eq == std::string_view::npos) {
            if (msg.fields_.empty())
                return fail(EPROTO, "PMI message does not start with key=value");
            std::string& value = msg.fields_.back().second;
            value += ' ';
            value += token;
            continue;
        }
        if (eq == 0)
            return fail(EPROTO, "PMI message has a token with an empty key");
        msg.fields_.emplace_back(std::string(token.substr(0, eq)), std::string(token.substr(eq + 1)));
    }
    if (msg.fields_.empty())
        return fail(EPROTO, "empty PMI message");
    return msg;
}

std::optional<std::string_view> PmiMessage::get(std::string_view key) const
{
    for (auto it = fields_.rbegin(); it != fields_.rend(); ++it) {
        if (it->first == key)
            return std::string_view(it->second);
    }
    return std::nullopt;
}

std::optional<int> PmiMessage::get_int(std::string_view key) const
{
    auto s = get(key);
    if (!s)
        return std::nullopt;
    std::string_view v = *s;
    if (!v.empty() && v.front() == '+')
        v.remove_prefix(1);
    int n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size())
        return std::nullopt;
    return n;
}

PmiServer::PmiServer(int size, std::string kvsname) : size_(size), kvsname_(std::move(kvsname))
{
    if (size_ < 1) {
        config_error_ = Error(EINVAL, "PMI server size must be at least 1");
        size_ = 0;
    } else if (kvsname_.empty() || !pmi_is_word(kvsname_) || kvsname_.find('=') != std::string::npos ||
               kvsname_.size() >= static_cast<std::size_t>(pmi_kvsname_max)) {
        config_error_ = Error(EINVAL, "PMI kvsname must be a short word");
    }
    clients_.resize(static_cast<std::size_t>(size_));
}

Result<void> PmiServer::preput(std::string key, std::string value)
{
    if (!valid_key(key))
        return fail(EINVAL, "invalid PMI key");
    if (!valid_value(value))
        return fail(EINVAL, "invalid PMI value for key " + key);
    kvs_.insert_or_assign(std::move(key), std::move(value));
    return {};
}

Result<void> PmiServer::feed(int rank, std::string_view bytes)
{
    if (config_error_)
        return std::unexpected(*config_error_);
    if (rank < 0 || rank >= size_)
        return fail(EINVAL, "PMI rank " + std::to_string(rank) + " out of range");
    Client& client = clients_[static_cast<std::size_t>(rank)];
    if (client.failed)
        return fail(EPROTO, "PMI connection already failed");

    client.in.append(bytes);
    std::size_t start = 0;
    Result<void> result;
    while (result) {
        std::size_t nl = client.in.find('\n', start);
        if (nl == std::string::npos)
            break;
        if (nl - start > pmi_line_max) {
            result = fail(EMSGSIZE, "PMI request line too long");
            break;
        }
        std::string line = client.in.substr(start, nl - start);
        start = nl + 1;
        result = handle_line(rank, line);
    }
    if (result && client.in.size() - start > pmi_line_max)
        result = fail(EMSGSIZE, "PMI request line too long");
    if (!result) {
        client.failed = true;
        client.in.clear();
        client.in.shrink_to_fit();
        return result;
    }
    client.in.erase(0, start);
    return {};
}

Result<void> PmiServer::handle_line(int rank, std::string_view line)
{
    Client& client = clients_[static_cast<std::size_t>(rank)];
    if (client.in_spawn) {
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line == "endcmd") {
            client.in_spawn = false;
            client.out += rc_fail("spawn_result", "spawn_unsupported");
        }
        return {};
    }
    if (line.find_first_not_of(" \t\r") == std::string_view::npos)
        return {};  // tolerate blank lines
    if (client.finalized)
        return fail(EPROTO, "PMI request after finalize");

    auto parsed = PmiMessage::parse(line);
    if (!parsed)
        return std::unexpected(parsed.error());
    const PmiMessage& msg = *parsed;

    if (msg.get("mcmd") == "spawn") {
        client.in_spawn = true;
        return {};
    }
    auto cmd_opt = msg.get("cmd");
    if (!cmd_opt)
        return fail(EPROTO, "PMI message has no cmd");
    std::string_view cmd = *cmd_opt;

    if (cmd == "init") {
        auto version = msg.get_int("pmi_version");
        if (version != 1) {
            client.out += "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=-1\n";
            return {};
        }
        client.initialized = true;
        client.out += "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n";
    } else if (cmd == "get_maxes") {
        client.out += "cmd=maxes kvsname_max=" + std::to_string(pmi_kvsname_max) +
                      " keylen_max=" + std::to_string(pmi_keylen_max) +
                      " vallen_max=" + std::to_string(pmi_vallen_max) + "\n";
    } else if (cmd == "get_appnum") {
        client.out += "cmd=appnum appnum=0\n";
    } else if (cmd == "get_universe_size") {
        client.out += "cmd=universe_size size=" + std::to_string(universe_size_ > 0 ? universe_size_ : size_) + "\n";
    } else if (cmd == "get_my_kvsname") {
        client.out += "cmd=my_kvsname kvsname=" + kvsname_ + "\n";
    } else if (cmd == "put") {
        handle_put(client, msg);
    } else if (cmd == "get") {
        handle_get(client, msg);
    } else if (cmd == "barrier_in") {
        return handle_barrier(rank);
    } else if (cmd == "finalize") {
        client.finalized = true;
        client.out += "cmd=finalize_ack\n";
    } else if (cmd == "abort") {
        if (!abort_) {
            PmiAbort info;
            info.rank = rank;
            info.exit_code = msg.get_int("exitcode").value_or(1);
            info.message = std::string(msg.get("msg").value_or(""));
            abort_ = std::move(info);
        }
        // RFC 13 defines no meaningful answer; the client is about to exit.
    } else if (cmd == "publish_name") {
        client.out += rc_fail("publish_result", "publish_unsupported");
    } else if (cmd == "unpublish_name") {
        client.out += rc_fail("unpublish_result", "unpublish_unsupported");
    } else if (cmd == "lookup_name") {
        client.out += rc_fail("lookup_result", "lookup_unsupported");
    } else {
        return fail(EPROTO, "unknown PMI command " + std::string(cmd.substr(0, 64)));
    }
    return {};
}

std::optional<std::string> PmiServer::check_kvsname(const PmiMessage& msg) const
{
    auto name = msg.get("kvsname");
    if (name && *name != kvsname_)
        return "invalid_kvsname";
    return std::nullopt;
}

void PmiServer::handle_put(Client& client, const PmiMessage& msg)
{
    if (auto why = check_kvsname(msg)) {
        client.out += rc_fail("put_result", *why);
        return;
    }
    auto key = msg.get("key");
    auto value = msg.get("value");
    if (!key || !valid_key(*key)) {
        client.out += rc_fail("put_result", "invalid_key");
        return;
    }
    if (!value || !valid_value(*value)) {
        client.out += rc_fail("put_result", "invalid_value");
        return;
    }
    pending_.insert_or_assign(std::string(*key), std::string(*value));
    client.out += "cmd=put_result rc=0\n";
}

void PmiServer::handle_get(Client& client, const PmiMessage& msg)
{
    if (auto why = check_kvsname(msg)) {
        client.out += rc_fail("get_result", *why);
        return;
    }
    auto key_opt = msg.get("key");
    if (!key_opt || !valid_key(*key_opt)) {
        client.out += rc_fail("get_result", "invalid_key");
        return;
    }
    std::string key(*key_opt);
    const std::string* value = nullptr;
    if (auto it = pending_.find(key); it != pending_.end())
        value = &it->second;
    else if (auto jt = kvs_.find(key); jt != kvs_.end())
        value = &jt->second;
    if (!value) {
        client.out += rc_fail("get_result", "key_not_found");
        return;
    }
    client.out += "cmd=get_result rc=0 value=" + *value + "\n";
}

Result<void> PmiServer::handle_barrier(int rank)
{
    Client& client = clients_[static_cast<std::size_t>(rank)];
    if (client.in_barrier)
        return fail(EPROTO, "PMI barrier entered twice");
    client.in_barrier = true;
    if (++barrier_count_ < size_)
        return {};
    barrier_count_ = 0;
    if (barrier_hook_) {
        // Distributed: the other servers' puts arrive in complete_barrier().
        auto puts = std::move(pending_);
        pending_.clear();
        barrier_hook_(std::move(puts));
        return {};
    }
    finish_barrier({});
    return {};
}

void PmiServer::complete_barrier(const std::map<std::string, std::string>& kvs)
{
    finish_barrier(kvs);
}

void PmiServer::finish_barrier(const std::map<std::string, std::string>& kvs)
{
    for (auto& [key, value] : pending_)
        kvs_.insert_or_assign(key, std::move(value));
    pending_.clear();
    for (const auto& [key, value] : kvs)
        kvs_.insert_or_assign(key, value);
    ++barriers_completed_;
    for (Client& c : clients_) {
        c.in_barrier = false;
        if (!c.failed)
            c.out += "cmd=barrier_out\n";
    }
}

std::vector<std::pair<int, std::string>> PmiServer::take_output()
{
    std::vector<std::pair<int, std::string>> result;
    for (int rank = 0; rank < size_; ++rank) {
        std::string& out = clients_[static_cast<std::size_t>(rank)].out;
        if (!out.empty()) {
            result.emplace_back(rank, std::move(out));
            out.clear();
        }
    }
    return result;
}

bool PmiServer::initialized(int rank) const
{
    return rank >= 0 && rank < size_ && clients_[static_cast<std::size_t>(rank)].initialized;
}

bool PmiServer::finalized(int rank) const
{
    return rank >= 0 && rank < size_ && clients_[static_cast<std::size_t>(rank)].finalized;
}

bool PmiServer::all_finalized() const
{
    if (size_ < 1)
        return false;
    for (const Client& c : clients_) {
        if (!c.finalized)
            return false;
    }
    return true;
}

}  // namespace flux
