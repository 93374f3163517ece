// RFC 19 FLUIDs: generator and string encodings (after flux-core fluid.c
// and libjob/id.c).
#include "flux/jobid.hpp"

#include <langinfo.h>
#include <strings.h>
#include <time.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "mnemonic.hpp"

namespace flux {

namespace {

constexpr int bits_per_seq = 10;
constexpr int bits_per_id = 14;
constexpr std::uint32_t seq_limit = 1u << bits_per_seq;

constexpr std::string_view b58_digits = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view f58_prefix = "\xc6\x92";  // U+0192 LATIN SMALL LETTER F WITH HOOK
constexpr std::string_view f58_alt_prefix = "f";

std::uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

std::unexpected<Error> invalid_jobid()
{
    return fail(EINVAL, "invalid jobid");
}

bool utf8_locale()
{
    return MB_CUR_MAX > 1 && std::strcmp(nl_langinfo(CODESET), "UTF-8") == 0 && !std::getenv("FLUX_F58_FORCE_ASCII");
}

std::string encode_f58(JobId id, std::string_view prefix)
{
    char rev[16];
    int n = 0;
    do {
        rev[n++] = b58_digits[id % 58];
        id /= 58;
    } while (id > 0);
    std::string out(prefix);
    while (n > 0)
        out += rev[--n];
    return out;
}

std::optional<JobId> decode_f58(std::string_view s)
{
    if (s.empty() || s.size() > 12)  // 12: flux-core's MAX_B58_STRLEN
        return std::nullopt;
    JobId id = 0;
    for (char c : s) {
        auto d = b58_digits.find(c);
        if (d == std::string_view::npos)
            return std::nullopt;
        if (id > (UINT64_MAX - d) / 58)
            return std::nullopt;  // overflow
        id = id * 58 + d;
    }
    return id;
}

// Unsigned integer in `base` that must use all of `s` (no sign, no space).
std::optional<std::uint64_t> decode_uint(std::string_view s, int base)
{
    std::uint64_t v = 0;
    if (s.empty())
        return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

// "xxxx.xxxx.xxxx.xxxx": four groups of 1-4 hex digits, most significant first.
std::optional<JobId> decode_dothex(std::string_view s)
{
    JobId id = 0;
    for (int i = 0; i < 4; i++) {
        auto dot = s.find('.');
        if ((dot == std::string_view::npos) != (i == 3))
            return std::nullopt;
        auto group = s.substr(0, dot);
        if (group.size() > 4)
            return std::nullopt;
        auto v = decode_uint(group, 16);
        if (!v)
            return std::nullopt;
        id = (id << 16) | *v;
        if (i < 3)
            s.remove_prefix(dot + 1);
    }
    return id;
}

std::string_view trim(std::string_view s)
{
    constexpr std::string_view ws = " \t\n\r\f\v";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos)
        return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

}  // namespace

std::string encode_jobid(JobId id, JobIdEncoding encoding)
{
    switch (encoding) {
        case JobIdEncoding::dec:
            return fmt::format("{}", id);
        case JobIdEncoding::hex:
            return fmt::format("0x{:x}", id);
        case JobIdEncoding::dothex:
            return fmt::format("{:04x}.{:04x}.{:04x}.{:04x}", (id >> 48) & 0xffff, (id >> 32) & 0xffff,
                               (id >> 16) & 0xffff, id & 0xffff);
        case JobIdEncoding::kvs:
            return "job." + encode_jobid(id, JobIdEncoding::dothex);
        case JobIdEncoding::words:
            return job_detail::mnemonic_encode(id);
        case JobIdEncoding::f58:
            return encode_f58(id, utf8_locale() ? f58_prefix : f58_alt_prefix);
        case JobIdEncoding::f58plain:
            return encode_f58(id, f58_alt_prefix);
    }
    return fmt::format("{}", id);
}

Result<JobId> parse_jobid(std::string_view text)
{
    auto s = trim(text);
    if (s.starts_with("job."))
        s.remove_prefix(4);
    std::optional<JobId> id;
    if (s.find('.') != std::string_view::npos)
        id = decode_dothex(s);
    else if (s.find('-') != std::string_view::npos)
        id = job_detail::mnemonic_decode(s);
    else if (s.starts_with(f58_prefix))
        id = decode_f58(s.substr(f58_prefix.size()));
    else if (s.starts_with(f58_alt_prefix))
        id = decode_f58(s.substr(f58_alt_prefix.size()));
    else if (s.starts_with("0x"))
        id = decode_uint(s.substr(2), 16);
    else
        id = decode_uint(s, 10);
    if (!id)
        return invalid_jobid();
    return *id;
}

Result<JobIdEncoding> parse_jobid_encoding(std::string_view name)
{
    static constexpr std::array<std::pair<std::string_view, JobIdEncoding>, 7> names{{
        {"dec", JobIdEncoding::dec},
        {"hex", JobIdEncoding::hex},
        {"dothex", JobIdEncoding::dothex},
        {"kvs", JobIdEncoding::kvs},
        {"words", JobIdEncoding::words},
        {"f58", JobIdEncoding::f58},
        {"f58plain", JobIdEncoding::f58plain},
    }};
    for (const auto& [n, e] : names) {
        if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0)
            return e;
    }
    return fail(EINVAL, fmt::format("unknown jobid encoding '{}'", name));
}

// --- generator ---

Result<JobIdGenerator> JobIdGenerator::create(std::uint32_t generator_id, std::uint64_t epoch_ms)
{
    std::uint64_t now = clock_ms(CLOCK_REALTIME);
    if (epoch_ms > now)
        return fail(EINVAL, "FLUID epoch is in the future");
    return create_at(generator_id, now - epoch_ms);
}

Result<JobIdGenerator> JobIdGenerator::create_at(std::uint32_t generator_id, std::uint64_t start_timestamp, Clock clock)
{
    if (generator_id > max_generator_id)
        return fail(EINVAL,
                    fmt::format("FLUID generator id {} is out of range (max {})", generator_id, max_generator_id));
    if (start_timestamp > max_timestamp)
        return fail(EOVERFLOW, "FLUID timestamp exhausted");
    JobIdGenerator gen;
    gen.clock_ = clock ? std::move(clock) : Clock([] { return clock_ms(CLOCK_MONOTONIC); });
    gen.clock_zero_ = gen.clock_();
    gen.clock_offset_ = start_timestamp;
    gen.timestamp_ = start_timestamp;
    gen.id_ = generator_id;
    return gen;
}

Result<void> JobIdGenerator::update()
{
    std::uint64_t now = clock_();
    // A clock behind its starting point counts as no time elapsed.
    std::uint64_t elapsed = now > clock_zero_ ? now - clock_zero_ : 0;
    if (elapsed > max_timestamp - clock_offset_)
        return fail(EOVERFLOW, "FLUID timestamp exhausted");
    std::uint64_t ts = clock_offset_ + elapsed;
    if (ts > timestamp_) {
        timestamp_ = ts;
        seq_ = 0;
    }
    return {};
}

Result<JobId> JobIdGenerator::next()
{
    // As fluid_generate(): wait for the next millisecond once seq 1022 is used.
    do {
        if (auto r = update(); !r)
            return std::unexpected(r.error());
    } while (seq_ + 1 >= seq_limit);
    JobId id = (timestamp_ << (bits_per_seq + bits_per_id)) | (static_cast<JobId>(id_) << bits_per_seq) | seq_;
    seq_++;
    return id;
}

Result<std::uint64_t> JobIdGenerator::timestamp()
{
    if (auto r = update(); !r)
        return std::unexpected(r.error());
    return timestamp_;
}

}  // namespace flux
