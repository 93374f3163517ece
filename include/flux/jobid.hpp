// Job IDs: RFC 19 FLUIDs (Flux Locally Unique IDs), their generator and
// their string encodings, compatible with flux-core's fluid.c and
// flux_job_id_encode()/flux_job_id_parse().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "flux/error.hpp"

namespace flux {

/// A job ID: a 64-bit FLUID laid out as [timestamp:40 | generator:14 | seq:10].
using JobId = std::uint64_t;

/// String encodings of a JobId (the names are those of `flux job id --to=`).
enum class JobIdEncoding {
    dec,       ///< "6731191091817518"
    hex,       ///< "0x17e9fb8df16c2e"
    dothex,    ///< "0017.e9fb.8df1.6c2e"
    kvs,       ///< "job.0017.e9fb.8df1.6c2e"
    words,     ///< mnemonicode: "academy-academy-academy--academy-academy-academy"
    f58,       ///< base58 with the "ƒ" prefix (or "f", see encode_jobid)
    f58plain,  ///< base58 with the ASCII "f" prefix always
};

/// Encode `id`. For f58 the prefix is U+0192 "ƒ" (UTF-8) only when the
/// environment variable FLUX_F58_FORCE_ASCII is unset and the current
/// LC_CTYPE locale is multibyte with codeset "UTF-8" (MB_CUR_MAX > 1 and
/// nl_langinfo(CODESET)), exactly as flux-core decides; otherwise "f".
/// A program gets the user's locale only after setlocale(LC_ALL, ""), which
/// the flux commands call first thing; without it the C locale gives "f".
std::string encode_jobid(JobId id, JobIdEncoding encoding);

/// Parse a JobId in any encoding above (RFC 19 "Decoding" rules): leading
/// and trailing whitespace is ignored, a "job." prefix (kvs) is dropped,
/// then a '.' means dothex, a '-' means words, a leading "ƒ" or "f" means
/// f58, "0x" means hex, else decimal. Emoji encoding is not supported.
/// Errors: EINVAL "invalid jobid" (anything else: empty, junk, overflow).
Result<JobId> parse_jobid(std::string_view text);

/// Encoding named by `name` ("dec", "hex", "dothex", "kvs", "words", "f58",
/// "f58plain"; case-insensitive). Errors: EINVAL naming the bad value.
Result<JobIdEncoding> parse_jobid_encoding(std::string_view name);

/// Milliseconds since the generator's epoch (the top 40 bits), e.g. to
/// sanity-check a job's submit time.
constexpr std::uint64_t jobid_timestamp(JobId id)
{
    return id >> 24;
}
/// Generator id (the middle 14 bits).
constexpr std::uint32_t jobid_generator(JobId id)
{
    return static_cast<std::uint32_t>((id >> 10) & 0x3fff);
}
/// Sequence number within the millisecond (the low 10 bits).
constexpr std::uint32_t jobid_sequence(JobId id)
{
    return static_cast<std::uint32_t>(id & 0x3ff);
}

/// FLUID generator (RFC 19, fluid.c): each id is the current timestamp,
/// the generator id and a sequence number that restarts at 0 whenever the
/// timestamp advances. As in fluid.c at most 1023 ids are handed out per
/// millisecond (sequence 0..1022): when they are used up, next() busy-waits
/// for the clock to reach the next millisecond (bounded by 1 ms with a real
/// clock). A clock that goes backwards is ignored: the last timestamp is
/// kept (ids keep increasing) until the clock passes it again.
/// Ids from one generator are strictly increasing. Not thread-safe.
class JobIdGenerator {
public:
    /// Millisecond clock; production uses CLOCK_MONOTONIC.
    using Clock = std::function<std::uint64_t()>;

    static constexpr std::uint32_t max_generator_id = (1u << 14) - 1;
    static constexpr std::uint64_t max_timestamp = (std::uint64_t{1} << 40) - 1;

    /// A generator whose timestamps count milliseconds since `epoch_ms`
    /// (itself milliseconds since the Unix epoch). The wall clock is read
    /// once here; after that, time advances with the monotonic clock, so
    /// wall clock steps cannot make ids go backwards.
    /// Errors: EINVAL if generator_id > max_generator_id or epoch_ms is in
    /// the future; EOVERFLOW if the timestamp does not fit in 40 bits.
    static Result<JobIdGenerator> create(std::uint32_t generator_id, std::uint64_t epoch_ms);

    /// fluid_init() semantics: the first timestamp is `start_timestamp`
    /// and it advances as `clock` does from now on. Use it to continue
    /// after a restart (start from the saved timestamp() + 1) and in tests.
    /// A null clock means CLOCK_MONOTONIC. Errors as create().
    static Result<JobIdGenerator> create_at(std::uint32_t generator_id, std::uint64_t start_timestamp,
                                            Clock clock = {});

    /// The next id. Errors: EOVERFLOW once the 40-bit timestamp is exhausted
    /// (about 34.8 years after the epoch).
    Result<JobId> next();

    /// The current timestamp, updated from the clock (fluid_save_timestamp):
    /// save it to restart a generator later without reusing ids.
    /// Errors: EOVERFLOW as next().
    Result<std::uint64_t> timestamp();

    std::uint32_t generator_id() const { return id_; }

private:
    JobIdGenerator() = default;
    Result<void> update();

    Clock clock_;
    std::uint64_t clock_zero_ = 0;    // clock() at creation
    std::uint64_t clock_offset_ = 0;  // timestamp at creation
    std::uint64_t timestamp_ = 0;
    std::uint32_t id_ = 0;
    std::uint32_t seq_ = 0;
};

}  // namespace flux
