// PMI-1 simple wire protocol (RFC 13): line codec and an I/O-free server state machine.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flux/error.hpp"

namespace flux {

/// Limits advertised in `cmd=maxes`. As in RFC 13 each counts the C
/// terminating NUL, so a key may hold at most pmi_keylen_max - 1 characters.
inline constexpr int pmi_kvsname_max = 256;
inline constexpr int pmi_keylen_max = 256;
inline constexpr int pmi_vallen_max = 1024;

/// Longest line (request or response, without its newline) either side accepts.
inline constexpr std::size_t pmi_line_max = 64 * 1024;

/// PMI-1 return codes as they appear in `rc=` on the wire.
inline constexpr int pmi_success = 0;
inline constexpr int pmi_fail = -1;

/// True when `s` may travel as one wire token value: no space, tab, CR or LF.
bool pmi_is_word(std::string_view s);

/// One decoded wire message: the key=value tokens of one line, in order.
class PmiMessage {
public:
    /// Decode one line without its trailing newline (a trailing CR is ignored).
    /// Tokens are separated by spaces or tabs and split at their first '=',
    /// so values may contain '='. A token without '=' continues the previous
    /// value after one space, which keeps free text such as `msg=` intact;
    /// callers needing a single word check with pmi_is_word().
    /// Errors: EPROTO for a blank line, a first token without '=', or an
    /// empty key.
    static Result<PmiMessage> parse(std::string_view line);

    /// The value of `key` (the last one when repeated), or nullopt.
    std::optional<std::string_view> get(std::string_view key) const;

    /// The value of `key` as a decimal int (optional sign); nullopt when
    /// absent, empty, out of range or not a number.
    std::optional<int> get_int(std::string_view key) const;

    const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

/// What a client reported with `cmd=abort`.
struct PmiAbort {
    int rank = -1;
    int exit_code = 1;    ///< `exitcode=` as sent, 1 when absent or invalid
    std::string message;  ///< `msg=` as sent, possibly empty
};

/// Server side of PMI-1 for one job of `size` processes (ranks 0..size-1)
/// sharing one KVS. It does no I/O: the caller feeds it bytes read from each
/// client's connection and writes out what take_output() returns, so it can
/// be driven from any event loop.
///
/// Semantics: a put is visible to every get at once and becomes part of the
/// committed kvs() when the next barrier completes (RFC 13 only promises
/// visibility after the barrier). Re-putting a key replaces its value.
/// A barrier completes when every rank has sent `cmd=barrier_in`; then each
/// rank receives `cmd=barrier_out`. Missing keys answer `rc=-1`. Invalid
/// puts/gets (oversize, whitespace in a value, wrong kvsname) answer `rc=-1`
/// and keep the connection. Unsupported dynamic-process requests (publish,
/// unpublish, lookup, spawn) answer `rc=-1`. Anything else that breaks the
/// protocol makes feed() fail; that rank is then dead for this server.
class PmiServer {
public:
    /// `size` must be >= 1 and `kvsname` a non-empty word shorter than
    /// pmi_kvsname_max; otherwise the server is unusable and every feed()
    /// fails with EINVAL saying why.
    PmiServer(int size, std::string kvsname);

    int size() const { return size_; }
    const std::string& kvsname() const { return kvsname_; }

    /// Store a committed key before or while clients run, e.g.
    /// `PMI_process_mapping` = `(vector,(0,1,N))` for N ranks on one node.
    /// Errors: EINVAL when the key or value breaks the wire rules or maxes.
    Result<void> preput(std::string key, std::string value);

    /// Process bytes received on `rank`'s connection: every complete line is
    /// handled and its response queued; a partial line is kept for the next
    /// call. Errors (the caller should log them and close the connection):
    /// EINVAL for a rank out of range or an unusable server, EMSGSIZE for a
    /// line longer than pmi_line_max, EPROTO for a malformed or out-of-order
    /// request, or any request on a connection that already failed.
    Result<void> feed(int rank, std::string_view bytes);

    /// Bytes to write to each client since the last call, in rank order,
    /// only for ranks that have something. Completing a barrier queues
    /// `cmd=barrier_out` for every rank.
    std::vector<std::pair<int, std::string>> take_output();

    /// Per-rank state; false for a rank out of range.
    bool initialized(int rank) const;
    bool finalized(int rank) const;
    /// True when every rank has sent `cmd=finalize`.
    bool all_finalized() const;

    /// The first abort any client sent, if one did.
    const std::optional<PmiAbort>& aborted() const { return abort_; }

    /// The committed KVS: preputs plus puts made before the last barrier.
    const std::map<std::string, std::string>& kvs() const { return kvs_; }

    /// Number of barriers that have completed.
    int barriers_completed() const { return barriers_completed_; }

    // --- one server among several (a job spread over many job shells) ---
    // The server's clients are then this shell's tasks only: feed() takes a
    // local index 0..size-1 and the barrier waits for the local clients.

    /// What `cmd=get_universe_size` answers (default: size).
    void set_universe_size(int n) { universe_size_ = n; }
    /// When every local client has entered a barrier, call `hook` with the
    /// puts made since the previous one instead of completing it; the
    /// caller exchanges them with the other servers and then calls
    /// complete_barrier() with everyone's puts.
    void set_barrier_hook(std::function<void(std::map<std::string, std::string>)> hook)
    {
        barrier_hook_ = std::move(hook);
    }
    /// Commit `kvs` (plus local puts) and release the local clients.
    void complete_barrier(const std::map<std::string, std::string>& kvs);

private:
    struct Client {
        std::string in;   // bytes of an incomplete line
        std::string out;  // responses not yet taken
        bool initialized = false;
        bool in_barrier = false;
        bool finalized = false;
        bool in_spawn = false;  // swallowing an mcmd=spawn block until endcmd
        bool failed = false;
    };

    Result<void> handle_line(int rank, std::string_view line);
    void handle_put(Client& client, const PmiMessage& msg);
    void handle_get(Client& client, const PmiMessage& msg);
    Result<void> handle_barrier(int rank);
    void finish_barrier(const std::map<std::string, std::string>& kvs);
    std::optional<std::string> check_kvsname(const PmiMessage& msg) const;

    int size_;
    std::string kvsname_;
    std::optional<Error> config_error_;
    std::vector<Client> clients_;
    std::map<std::string, std::string> kvs_;      // committed
    std::map<std::string, std::string> pending_;  // put since the last barrier
    int barrier_count_ = 0;
    int barriers_completed_ = 0;
    std::optional<PmiAbort> abort_;
    int universe_size_ = 0;
    std::function<void(std::map<std::string, std::string>)> barrier_hook_;
};

}  // namespace flux
