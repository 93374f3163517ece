// libFuzzer target over the text parsers that take user or wire input:
// idset, hostlist, R, jobspec (JSON and YAML), eventlog, jobid, durations and
// batch-script directives. The first byte picks the parser; the rest is its
// input. A parser may refuse anything, but must not crash, and what it
// accepts must encode to text that parses back to the same value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <flux/directives.hpp>
#include <flux/eventlog.hpp>
#include <flux/hostlist.hpp>
#include <flux/idset.hpp>
#include <flux/jobid.hpp>
#include <flux/jobspec.hpp>
#include <flux/rlist.hpp>
#include <flux/yaml.hpp>

using namespace flux;
using namespace flux::job;

namespace {

void check(bool ok)
{
    if (!ok)
        std::abort();
}

void fuzz_idset(std::string_view in)
{
    auto s = IdSet::parse(in);
    if (!s)
        return;
    for (bool brackets : {false, true}) {
        auto again = IdSet::parse(s->encode(brackets));
        check(again && *again == *s);
    }
}

void fuzz_hostlist(std::string_view in)
{
    auto h = Hostlist::parse(in);
    if (!h)
        return;
    auto again = Hostlist::parse(h->encode());
    check(again && *again == *h && again->size() == h->size());
    if (h->size() > 0) {
        auto first = h->nth(0);
        check(first.has_value() && h->find(*first).has_value());
    }
}

void fuzz_rlist(std::string_view in)
{
    auto r = Rlist::parse(in);
    if (!r)
        return;
    std::string text = r->to_json();
    auto again = Rlist::parse(text);
    check(again && *again == *r && again->to_json() == text);
    (void)r->to_string();
}

void fuzz_jobspec(std::string_view in)
{
    if (auto j = Jobspec::parse(in)) {
        (void)j->environment();
        (void)j->shell_options();
        auto again = Jobspec::parse(j->dump());
        check(again.has_value());
    }
}

void fuzz_yaml(std::string_view in)
{
    if (auto doc = parse_yaml(in))
        (void)Jobspec::from_json(*doc);
}

void fuzz_eventlog(std::string_view in)
{
    (void)decode_entry(in);
    (void)decode_eventlog(in);
}

void fuzz_jobid(std::string_view in)
{
    auto id = parse_jobid(in);
    if (!id)
        return;
    for (auto e : {JobIdEncoding::dec, JobIdEncoding::hex, JobIdEncoding::dothex, JobIdEncoding::kvs,
                   JobIdEncoding::words, JobIdEncoding::f58, JobIdEncoding::f58plain}) {
        auto again = parse_jobid(encode_jobid(*id, e));
        check(again && *again == *id);
    }
}

void fuzz_duration(std::string_view in)
{
    (void)parse_duration(in);
    (void)parse_time_limit(in);
}

void fuzz_directives(std::string_view in)
{
    (void)parse_directives(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0)
        return 0;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 9) {
        case 0:
            fuzz_idset(in);
            break;
        case 1:
            fuzz_hostlist(in);
            break;
        case 2:
            fuzz_rlist(in);
            break;
        case 3:
            fuzz_jobspec(in);
            break;
        case 4:
            fuzz_yaml(in);
            break;
        case 5:
            fuzz_eventlog(in);
            break;
        case 6:
            fuzz_jobid(in);
            break;
        case 7:
            fuzz_duration(in);
            break;
        default:
            fuzz_directives(in);
            break;
    }
    return 0;
}
