// Blocking PMI-1 wire protocol client (RFC 13) over an inherited, connected fd.
#pragma once

#include <string>
#include <string_view>

#include "flux/error.hpp"
#include "flux/pmi.hpp"

namespace flux {

/// One process's connection to a PMI-1 process manager, as used by a broker
/// to bootstrap. Each call writes one request line and blocks until the
/// response line arrives (EINTR, short reads/writes and non-blocking fds are
/// handled). Not thread safe: PMI-1 allows one request in flight.
/// A failed call leaves the connection in an unknown state; a caller should
/// abort or give up rather than retry.
class PmiClient {
public:
    /// Take ownership of the connected `fd` (closed on destruction) for
    /// process `rank` of `size`. No I/O happens until init().
    PmiClient(int fd, int rank, int size);
    ~PmiClient();
    PmiClient(PmiClient&& other) noexcept;
    PmiClient& operator=(PmiClient&& other) noexcept;
    PmiClient(const PmiClient&) = delete;
    PmiClient& operator=(const PmiClient&) = delete;

    /// Build a client from PMI_FD, PMI_RANK and PMI_SIZE; the fd is owned
    /// and made close-on-exec. Errors: ENOENT when PMI_FD is unset (no
    /// process manager: run as a singleton); EINVAL when a variable is
    /// missing or not an integer, or rank is not in 0..size-1.
    static Result<PmiClient> from_env();

    /// Version handshake (PMI 1.1), then fetch the maxes and the kvsname.
    /// Must succeed before any other request except abort().
    /// Errors: EPROTO when the server refuses PMI 1.1 or answers nonsense,
    /// ECONNRESET when it closes the connection, or the errno of a failed
    /// read/write.
    Result<void> init();

    int rank() const { return rank_; }
    int size() const { return size_; }
    /// The job's KVS name; empty before init().
    const std::string& kvsname() const { return kvsname_; }

    /// `cmd=get_universe_size` and `cmd=get_appnum`.
    Result<int> universe_size();
    Result<int> appnum();

    /// Store key=value. Key and value must be words (no whitespace) within
    /// the server's maxes, and the key must not contain '='; otherwise
    /// EINVAL without contacting the server. EIO when the server answers rc!=0.
    Result<void> put(std::string_view key, std::string_view value);

    /// Fetch a value. ENOENT when the server has no such key (rc!=0),
    /// EINVAL for a bad key.
    Result<std::string> get(std::string_view key);

    /// Block until every process of the job has entered the barrier; puts
    /// made by any process before it are then visible to get().
    Result<void> barrier();

    /// Tell the server this process is done with PMI.
    Result<void> finalize();

    /// Ask the process manager to abort the job. Sends `cmd=abort` with
    /// `exitcode=` and `msg=` (newlines become spaces) and does not wait for
    /// an answer: the caller is expected to exit. Allowed before init().
    Result<void> abort(int exit_code, std::string_view message);

private:
    Result<void> require_init() const;
    Result<void> write_all(std::string_view data);
    Result<std::string> read_line();
    /// Send `line` (without newline), read one response, check its cmd.
    Result<PmiMessage> request(std::string_view line, std::string_view expect_cmd);

    int fd_ = -1;
    int rank_ = 0;
    int size_ = 1;
    std::string kvsname_;
    int keylen_max_ = 0;
    int vallen_max_ = 0;
    std::string in_;  // bytes read past the last returned line
};

}  // namespace flux
