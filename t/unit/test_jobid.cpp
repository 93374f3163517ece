// libjob: FLUID job ids (RFC 19), eventlog entries (RFC 18), job states
// and results (RFC 21). Part of the test_job binary (see test_job.cpp).
#include <gtest/gtest.h>

#include <time.h>

#include <clocale>
#include <cstdlib>
#include <set>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include <flux/eventlog.hpp>
#include <flux/jobid.hpp>
#include <flux/jobstate.hpp>

using nlohmann::json;
using namespace flux;

// --- RFC 19 FLUIDs ---

namespace {

struct Vector {
    JobId id;
    const char* f58;  // ASCII prefix form
    const char* hex;
    const char* dothex;
};

// From flux-core src/common/libutil/test/fluid.c and RFC 19.
const Vector vectors[] = {
    {0, "f1", "0x0", "0000.0000.0000.0000"},
    {1, "f2", "0x1", "0000.0000.0000.0001"},
    {57, "fz", "0x39", "0000.0000.0000.0039"},
    {1234, "fNH", "0x4d2", "0000.0000.0000.04d2"},
    {1888, "fZZ", "0x760", "0000.0000.0000.0760"},
    {3363, "fzz", "0xd23", "0000.0000.0000.0d23"},
    {3364, "f211", "0xd24", "0000.0000.0000.0d24"},
    {4369, "f2JL", "0x1111", "0000.0000.0000.1111"},
    {65535, "fLUv", "0xffff", "0000.0000.0000.ffff"},
    {4294967295, "f7YXq9G", "0xffffffff", "0000.0000.ffff.ffff"},
    {633528662, "fxyzzy", "0x25c2e156", "0000.0000.25c2.e156"},
    {6731191091817518ULL, "fuZZybuNNy", "0x17e9fb8df16c2e", "0017.e9fb.8df1.6c2e"},
    {18446744073709551614ULL, "fjpXCZedGfVP", "0xfffffffffffffffe", "ffff.ffff.ffff.fffe"},
    {18446744073709551615ULL, "fjpXCZedGfVQ", "0xffffffffffffffff", "ffff.ffff.ffff.ffff"},
};

// Restores the locale and FLUX_F58_FORCE_ASCII after a test changes them.
struct LocaleGuard {
    std::string saved = std::setlocale(LC_ALL, nullptr);
    const char* force = std::getenv("FLUX_F58_FORCE_ASCII");
    std::string force_saved = force ? force : "";
    ~LocaleGuard()
    {
        std::setlocale(LC_ALL, saved.c_str());
        if (force)
            setenv("FLUX_F58_FORCE_ASCII", force_saved.c_str(), 1);
        else
            unsetenv("FLUX_F58_FORCE_ASCII");
    }
};

}  // namespace

TEST(JobId, Vectors)
{
    for (const auto& v : vectors) {
        EXPECT_EQ(encode_jobid(v.id, JobIdEncoding::f58plain), v.f58);
        EXPECT_EQ(encode_jobid(v.id, JobIdEncoding::hex), v.hex);
        EXPECT_EQ(encode_jobid(v.id, JobIdEncoding::dothex), v.dothex);
        EXPECT_EQ(encode_jobid(v.id, JobIdEncoding::kvs), std::string("job.") + v.dothex);
        EXPECT_EQ(encode_jobid(v.id, JobIdEncoding::dec), std::to_string(v.id));
        EXPECT_EQ(*parse_jobid(v.f58), v.id) << v.f58;
        EXPECT_EQ(*parse_jobid(std::string("\xc6\x92") + (v.f58 + 1)), v.id) << v.f58;
        EXPECT_EQ(*parse_jobid(v.hex), v.id);
        EXPECT_EQ(*parse_jobid(v.dothex), v.id);
        EXPECT_EQ(*parse_jobid(std::string("job.") + v.dothex), v.id);
        EXPECT_EQ(*parse_jobid(std::to_string(v.id)), v.id);
    }
    // flux-core t2200-job-cmd.sh min/max words
    EXPECT_EQ(encode_jobid(0, JobIdEncoding::words), "academy-academy-academy--academy-academy-academy");
    EXPECT_EQ(encode_jobid(UINT64_MAX, JobIdEncoding::words), "natural-analyze-verbal--natural-analyze-verbal");
    EXPECT_EQ(*parse_jobid("natural-analyze-verbal--natural-analyze-verbal"), UINT64_MAX);
    EXPECT_EQ(*parse_jobid("academy-academy-academy--academy-academy-academy"), 0u);
    // short dothex groups and extra leading zeros in f58 decode too
    EXPECT_EQ(*parse_jobid("0.0.0.ffff"), 65535u);
    EXPECT_EQ(*parse_jobid("f111"), 0u);
}

TEST(JobId, WordsRoundTrip)
{
    // RFC 19 and flux-core documentation examples decode and re-encode.
    for (const char* w : {"reform-remote-galileo--heart-package-academy", "random-idea-yoyo--sugar-printer-academy",
                          "airline-alibi-index--tuna-maximum-adam"}) {
        auto id = parse_jobid(w);
        ASSERT_TRUE(id) << w;
        EXPECT_EQ(encode_jobid(*id, JobIdEncoding::words), w);
    }
    EXPECT_EQ(*parse_jobid("ACADEMY-academy-Academy--academy-academy-academy"), 0u);
    for (JobId id : {JobId{1}, JobId{1626}, JobId{0xfffffffe}, JobId{1} << 32, JobId{0x123456789abcdefULL}}) {
        std::string w = encode_jobid(id, JobIdEncoding::words);
        EXPECT_EQ(*parse_jobid(w), id) << w;
    }
}

TEST(JobId, ParseWhitespaceAndErrors)
{
    EXPECT_EQ(*parse_jobid(" 0xffff   "), 65535u);
    EXPECT_EQ(*parse_jobid("\t42\n"), 42u);
    for (const char* bad : {"",
                            "   ",
                            "boo",
                            "f",
                            "flux",
                            "f1230",
                            "x1",
                            "-1",
                            "+1",
                            "18446744073709551616",
                            "42plusbad",
                            "meep",
                            "0x",
                            "0x1g",
                            "0x10000000000000000",
                            "job.0000.0000",
                            "job.0000.0000.0000.000P",
                            "00000.0.0.0",
                            "0.0.0.0.0",
                            "bad-words",
                            "a-a-a--a-a-a",
                            "academy-academy-academy--academy-academy",
                            "academy-academy-academy--academy-academy-academy-academy",
                            "yes-academy-academy--academy-academy-academy",   // a 24-bit remainder word
                            "academy-academy-amen--academy-academy-academy",  // group value > 2^32-1
                            "fjpXCZedGfVR",
                            "f111111111111111",
                            "4 2",
                            "\xf0\x9f\x98\x83"}) {
        auto id = parse_jobid(bad);
        EXPECT_FALSE(id) << "'" << bad << "' -> " << (id ? *id : 0);
        if (!id) {
            EXPECT_EQ(id.error().errnum, EINVAL);
            EXPECT_EQ(id.error().text, "invalid jobid");
        }
    }
}

TEST(JobId, RoundTripAllEncodings)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    auto gen = JobIdGenerator::create(3, static_cast<std::uint64_t>(ts.tv_sec - 86400 * 365) * 1000);
    ASSERT_TRUE(gen);
    for (int i = 0; i < 100; i++) {
        JobId id = *gen->next();
        for (auto e : {JobIdEncoding::dec, JobIdEncoding::hex, JobIdEncoding::dothex, JobIdEncoding::kvs,
                       JobIdEncoding::words, JobIdEncoding::f58, JobIdEncoding::f58plain}) {
            std::string s = encode_jobid(id, e);
            auto back = parse_jobid(s);
            ASSERT_TRUE(back) << s;
            EXPECT_EQ(*back, id) << s;
        }
    }
}

TEST(JobId, F58Prefix)
{
    LocaleGuard guard;
    unsetenv("FLUX_F58_FORCE_ASCII");
    ASSERT_TRUE(std::setlocale(LC_ALL, "C"));
    EXPECT_EQ(encode_jobid(1, JobIdEncoding::f58), "f2");  // not multibyte
    if (std::setlocale(LC_ALL, "C.UTF-8")) {
        EXPECT_EQ(encode_jobid(1, JobIdEncoding::f58),
                  "\xc6\x92"
                  "2");
        EXPECT_EQ(encode_jobid(1, JobIdEncoding::f58plain), "f2");
        setenv("FLUX_F58_FORCE_ASCII", "1", 1);
        EXPECT_EQ(encode_jobid(1, JobIdEncoding::f58), "f2");
    }
}

TEST(JobId, EncodingNames)
{
    EXPECT_EQ(*parse_jobid_encoding("dec"), JobIdEncoding::dec);
    EXPECT_EQ(*parse_jobid_encoding("F58"), JobIdEncoding::f58);
    EXPECT_EQ(*parse_jobid_encoding("f58plain"), JobIdEncoding::f58plain);
    EXPECT_EQ(*parse_jobid_encoding("words"), JobIdEncoding::words);
    EXPECT_EQ(*parse_jobid_encoding("kvs"), JobIdEncoding::kvs);
    EXPECT_FALSE(parse_jobid_encoding("emoji"));
    EXPECT_FALSE(parse_jobid_encoding(""));
}

TEST(JobIdGenerator, Layout)
{
    std::uint64_t now = 500;
    auto gen = JobIdGenerator::create_at(5, 1000, [&] { return now; });
    ASSERT_TRUE(gen);
    JobId a = *gen->next();
    EXPECT_EQ(a, (JobId{1000} << 24) | (5u << 10) | 0u);
    EXPECT_EQ(jobid_timestamp(a), 1000u);
    EXPECT_EQ(jobid_generator(a), 5u);
    EXPECT_EQ(jobid_sequence(a), 0u);
    EXPECT_EQ(jobid_sequence(*gen->next()), 1u);
    now += 7;  // time advances: sequence restarts
    JobId b = *gen->next();
    EXPECT_EQ(jobid_timestamp(b), 1007u);
    EXPECT_EQ(jobid_sequence(b), 0u);
    EXPECT_EQ(*gen->timestamp(), 1007u);
    EXPECT_EQ(gen->generator_id(), 5u);
}

TEST(JobIdGenerator, SequenceExhausted)
{
    // As fluid.c: sequence numbers 0..1022 in one millisecond, then wait for
    // the clock to move on.
    int calls = 0;
    auto gen = JobIdGenerator::create_at(1, 42, [&] { return ++calls > 1100 ? 1 : 0; });
    ASSERT_TRUE(gen);
    JobId last = 0;
    for (int i = 0; i < 1023; i++) {
        JobId id = *gen->next();
        EXPECT_EQ(jobid_timestamp(id), 42u);
        EXPECT_EQ(jobid_sequence(id), static_cast<std::uint32_t>(i));
        last = id;
    }
    JobId next = *gen->next();
    EXPECT_GT(calls, 1100);  // it waited for the clock
    EXPECT_EQ(jobid_timestamp(next), 43u);
    EXPECT_EQ(jobid_sequence(next), 0u);
    EXPECT_GT(next, last);
}

TEST(JobIdGenerator, ClockGoesBackwards)
{
    std::uint64_t now = 100;
    auto gen = JobIdGenerator::create_at(0, 10, [&] { return now; });
    now = 150;
    JobId a = *gen->next();
    EXPECT_EQ(jobid_timestamp(a), 60u);
    now = 120;  // backwards: keep timestamp 60, keep counting
    JobId b = *gen->next();
    EXPECT_EQ(jobid_timestamp(b), 60u);
    EXPECT_EQ(jobid_sequence(b), 1u);
    now = 50;  // before the generator's start
    JobId c = *gen->next();
    EXPECT_GT(c, b);
    now = 151;
    JobId d = *gen->next();
    EXPECT_EQ(jobid_timestamp(d), 61u);
    EXPECT_EQ(jobid_sequence(d), 0u);
}

TEST(JobIdGenerator, Limits)
{
    EXPECT_EQ(JobIdGenerator::create_at(16384, 0).error().errnum, EINVAL);
    EXPECT_TRUE(JobIdGenerator::create_at(16383, 0));
    EXPECT_EQ(JobIdGenerator::create_at(0, JobIdGenerator::max_timestamp + 1).error().errnum, EOVERFLOW);

    std::uint64_t now = 0;
    auto gen = JobIdGenerator::create_at(16383, JobIdGenerator::max_timestamp, [&] { return now; });
    ASSERT_TRUE(gen);
    JobId id = *gen->next();
    EXPECT_EQ(jobid_timestamp(id), JobIdGenerator::max_timestamp);
    EXPECT_EQ(jobid_generator(id), 16383u);
    now = 1;  // the 40-bit timestamp is used up
    auto over = gen->next();
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().errnum, EOVERFLOW);
    EXPECT_FALSE(gen->timestamp());
}

TEST(JobIdGenerator, RealClock)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    std::uint64_t now_ms = static_cast<std::uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    EXPECT_EQ(JobIdGenerator::create(0, now_ms + 60000).error().errnum, EINVAL);  // epoch in the future

    auto gen = JobIdGenerator::create(7, now_ms - 5000);
    ASSERT_TRUE(gen);
    JobId first = *gen->next();
    EXPECT_GE(jobid_timestamp(first), 5000u);
    EXPECT_LT(jobid_timestamp(first), 5000u + 60000u);
    // 5000 ids as fast as possible: strictly increasing, all distinct.
    JobId last = first;
    std::set<JobId> seen{first};
    for (int i = 0; i < 5000; i++) {
        JobId id = *gen->next();
        ASSERT_GT(id, last);
        last = id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 5001u);

    // Restarting from a saved timestamp never goes backwards (fluid.c test).
    for (int i = 0; i < 100; i++) {
        auto g = JobIdGenerator::create_at(0, jobid_timestamp(last) + 1);
        JobId id = *g->next();
        ASSERT_GT(id, last);
        last = id;
    }
}

// --- RFC 18 eventlog ---

TEST(Eventlog, Encode)
{
    EventEntry e{1552593348.073045, "submit", {{"userid", 5588}, {"urgency", 16}, {"flags", 0}}};
    EXPECT_EQ(encode_entry(e),
              "{\"timestamp\":1552593348.073045,\"name\":\"submit\","
              "\"context\":{\"flags\":0,\"urgency\":16,\"userid\":5588}}\n");
    EXPECT_EQ(encode_entry({1.5, "clean", nullptr}), "{\"timestamp\":1.5,\"name\":\"clean\"}\n");
    EXPECT_EQ(encode_entry({2.0, "free", json::object()}), "{\"timestamp\":2.0,\"name\":\"free\"}\n");
    EXPECT_EQ(encode_entry({3.0, "bad\xff", nullptr}), "{\"timestamp\":3.0,\"name\":\"bad\xef\xbf\xbd\"}\n");

    EventEntry now = make_event("start", {{"x", 1}});
    EXPECT_GT(now.timestamp, 1.5e9);
    auto back = decode_entry(encode_entry(now));
    ASSERT_TRUE(back);
    EXPECT_DOUBLE_EQ(back->timestamp, now.timestamp);
    EXPECT_EQ(back->name, "start");
    EXPECT_EQ(back->context, now.context);
}

TEST(Eventlog, Decode)
{
    auto e = decode_entry(R"({"timestamp":1552593348.088391,"name":"alloc","context":{"note":"rank0/core[0-1]"}})");
    ASSERT_TRUE(e);
    EXPECT_DOUBLE_EQ(e->timestamp, 1552593348.088391);
    EXPECT_EQ(e->name, "alloc");
    EXPECT_EQ(e->context["note"], "rank0/core[0-1]");
    auto f = decode_entry("{\"timestamp\":1552593348.093541,\"name\":\"free\",\"other\":1}\n");
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->context.is_null());

    struct {
        const char* line;
        const char* fragment;
    } bad[] = {
        // RFC 18's own example line 3 has an unquoted key
        {R"({"timestamp":1552593348.088391,"name":"alloc",context:{"note":"rank0/core[0-1]"}})", "not valid JSON"},
        {"", "not valid JSON"},
        {"[]", "not a JSON object"},
        {R"({"name":"x"})", "no number 'timestamp'"},
        {R"({"timestamp":"1","name":"x"})", "no number 'timestamp'"},
        {R"({"timestamp":0,"name":"x"})", "greater than zero"},
        {R"({"timestamp":-1.5,"name":"x"})", "greater than zero"},
        {R"({"timestamp":1})", "non-empty string 'name'"},
        {R"({"timestamp":1,"name":""})", "non-empty string 'name'"},
        {R"({"timestamp":1,"name":7})", "non-empty string 'name'"},
        {R"({"timestamp":1,"name":"x","context":[1]})", "'context' must be a JSON object"},
        {R"({"timestamp":1,"name":"x","context":null})", "'context' must be a JSON object"},
        {"{\"timestamp\":1,\n\"name\":\"x\"}", "contains a newline"},
        {"{\"timestamp\":1,\"name\":\"x\"}\n\n", "contains a newline"},
    };
    for (const auto& b : bad) {
        auto r = decode_entry(b.line);
        ASSERT_FALSE(r) << b.line;
        EXPECT_EQ(r.error().errnum, EINVAL);
        EXPECT_NE(r.error().text.find(b.fragment), std::string::npos) << b.line << ": " << r.error().text;
    }
}

TEST(Eventlog, DecodeLog)
{
    std::string log = encode_entry({1.0, "submit", {{"urgency", 16}}}) + encode_entry({2.0, "depend", nullptr}) +
                      encode_entry({3.0, "priority", {{"priority", 16}}});
    auto entries = decode_eventlog(log);
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 3u);
    EXPECT_EQ((*entries)[0].name, "submit");
    EXPECT_EQ((*entries)[0].context["urgency"], 16);
    EXPECT_EQ((*entries)[1].name, "depend");
    EXPECT_DOUBLE_EQ((*entries)[2].timestamp, 3.0);
    EXPECT_TRUE(decode_eventlog("")->empty());

    auto partial = decode_eventlog(log + "{\"timestamp\":4.0,\"name\":\"x\"}");
    ASSERT_FALSE(partial);
    EXPECT_EQ(partial.error().text, "line 4: eventlog entry is missing its newline");
    auto blank = decode_eventlog(encode_entry({1.0, "a", nullptr}) + "\n");
    ASSERT_FALSE(blank);
    EXPECT_NE(blank.error().text.find("line 2: eventlog entry is not valid JSON"), std::string::npos);
    auto bad = decode_eventlog(encode_entry({1.0, "a", nullptr}) + "{\"name\":\"b\"}\n");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().text, "line 2: eventlog entry has no number 'timestamp'");
}

// --- RFC 21 states and results ---

TEST(JobState, Names)
{
    EXPECT_EQ(static_cast<int>(JobState::NEW), 1);
    EXPECT_EQ(static_cast<int>(JobState::INACTIVE), 64);
    EXPECT_EQ(job_state_pending, 14u);
    EXPECT_EQ(job_state_running, 48u);
    EXPECT_EQ(job_state_active, 62u);
    const std::pair<JobState, const char*> states[] = {
        {JobState::NEW, "NEW"},           {JobState::DEPEND, "DEPEND"}, {JobState::PRIORITY, "PRIORITY"},
        {JobState::SCHED, "SCHED"},       {JobState::RUN, "RUN"},       {JobState::CLEANUP, "CLEANUP"},
        {JobState::INACTIVE, "INACTIVE"},
    };
    for (const auto& [s, name] : states) {
        EXPECT_EQ(job_state_name(s), name);
        std::string abbrev(1, name[0]);  // N D P S R C I
        EXPECT_EQ(job_state_name(s, NameForm::short_upper), abbrev);
        EXPECT_EQ(*parse_job_state(name), s);
        EXPECT_EQ(*parse_job_state(job_state_name(s, NameForm::lower)), s);
        EXPECT_EQ(*parse_job_state(abbrev), s);
        EXPECT_EQ(*parse_job_state(job_state_name(s, NameForm::short_lower)), s);
    }
    EXPECT_EQ(job_state_name(JobState::RUN, NameForm::lower), "run");
    EXPECT_EQ(*parse_job_state("Sched"), JobState::SCHED);
    EXPECT_EQ(job_state_name(static_cast<JobState>(3)), "(unknown)");
    EXPECT_EQ(job_state_name(static_cast<JobState>(3), NameForm::short_upper), "?");
    auto bad = parse_job_state("FOO");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().errnum, EINVAL);
    EXPECT_EQ(bad.error().text, "unknown job state 'FOO'");
    EXPECT_FALSE(parse_job_state(""));
    EXPECT_FALSE(parse_job_state("RUNNING"));
}

TEST(JobState, TransitionsOfTheJobManager)
{
    using S = flux::JobState;
    using flux::job_state_after;
    // A job's life: each event moves it on.
    S s = S::NEW;
    for (auto [event, next] : std::initializer_list<std::pair<const char*, S>>{{"submit", S::NEW},
                                                                               {"validate", S::DEPEND},
                                                                               {"depend", S::PRIORITY},
                                                                               {"priority", S::SCHED},
                                                                               {"alloc", S::RUN},
                                                                               {"start", S::RUN},
                                                                               {"finish", S::CLEANUP},
                                                                               {"release", S::CLEANUP},
                                                                               {"free", S::CLEANUP},
                                                                               {"clean", S::INACTIVE}}) {
        s = job_state_after(s, event);
        EXPECT_EQ(s, next) << event;
    }
    // A restarted job manager sends scheduled jobs back for a priority.
    EXPECT_EQ(job_state_after(S::SCHED, "flux-restart"), S::PRIORITY);
    EXPECT_EQ(job_state_after(S::RUN, "flux-restart"), S::RUN);
    EXPECT_EQ(job_state_after(S::DEPEND, "flux-restart"), S::DEPEND);
    // A new priority while scheduled does not move the job back.
    EXPECT_EQ(job_state_after(S::SCHED, "priority"), S::SCHED);
    EXPECT_EQ(job_state_after(S::RUN, "priority"), S::RUN);
    // A fatal exception ends any job not yet cleaning up; others do not.
    for (S from : {S::DEPEND, S::PRIORITY, S::SCHED, S::RUN})
        EXPECT_EQ(job_state_after(from, "exception", true), S::CLEANUP);
    EXPECT_EQ(job_state_after(S::RUN, "exception", false), S::RUN);
    EXPECT_EQ(job_state_after(S::CLEANUP, "exception", true), S::CLEANUP);
    EXPECT_EQ(job_state_after(S::INACTIVE, "exception", true), S::INACTIVE);
    // finish only ends a running job (after a fatal exception it is already
    // cleaning up); unknown events change nothing.
    EXPECT_EQ(job_state_after(S::CLEANUP, "finish"), S::CLEANUP);
    EXPECT_EQ(job_state_after(S::SCHED, "urgency"), S::SCHED);
    EXPECT_EQ(job_state_after(S::RUN, "memo"), S::RUN);
}

TEST(JobState, Results)
{
    const std::tuple<JobResult, const char*, const char*> results[] = {
        {JobResult::COMPLETED, "COMPLETED", "CD"},
        {JobResult::FAILED, "FAILED", "F"},
        {JobResult::CANCELED, "CANCELED", "CA"},
        {JobResult::TIMEOUT, "TIMEOUT", "TO"},
    };
    for (const auto& [r, name, abbrev] : results) {
        EXPECT_EQ(job_result_name(r), name);
        EXPECT_EQ(job_result_name(r, NameForm::short_upper), abbrev);
        EXPECT_EQ(*parse_job_result(name), r);
        EXPECT_EQ(*parse_job_result(abbrev), r);
        EXPECT_EQ(*parse_job_result(job_result_name(r, NameForm::lower)), r);
        EXPECT_EQ(*parse_job_result(job_result_name(r, NameForm::short_lower)), r);
    }
    EXPECT_EQ(static_cast<int>(JobResult::TIMEOUT), 8);
    EXPECT_EQ(job_result_name(JobResult::CANCELED, NameForm::short_lower), "ca");
    EXPECT_EQ(job_result_name(static_cast<JobResult>(16)), "(unknown)");
    EXPECT_EQ(parse_job_result("X").error().text, "unknown job result 'X'");
}
