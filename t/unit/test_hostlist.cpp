// Unit tests for flux::Hostlist (RFC 29 hostlists).
#include "flux/hostlist.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

using flux::Hostlist;
using Hosts = std::vector<std::string>;

static_assert(std::forward_iterator<Hostlist::Iterator>);

namespace {

Hostlist must_parse(std::string_view s)
{
    auto r = Hostlist::parse(s);
    EXPECT_TRUE(r.has_value()) << "parse '" << s << "': "
                               << (r ? "" : r.error().text);
    return r ? *r : Hostlist{};
}

std::string join(const Hosts& hosts)
{
    std::string out;
    for (const auto& h : hosts) {
        if (!out.empty())
            out += ',';
        out += h;
    }
    return out;
}

}  // namespace

// Every test vector of RFC 29: left side expands to the right side, and
// both sides denote the same list.
TEST(HostlistRfc, TestVectors)
{
    struct Vector {
        const char* in;
        const char* expanded;
    };
    const Vector vectors[] = {
        {"", ""},
        {"foox,fooy,fooz", "foox,fooy,fooz"},
        {"[1-3,5-6]", "1,2,3,5,6"},
        {"foo[1-5]", "foo1,foo2,foo3,foo4,foo5"},
        {"foo[0-4]-eth2", "foo0-eth2,foo1-eth2,foo2-eth2,foo3-eth2,foo4-eth2"},
        {"foo1,foo1,foo1", "foo1,foo1,foo1"},
        {"[00-02]", "00,01,02"},
        {"[00-2]", "00,01,02"},
        {"foo[1,1,2,1]", "foo1,foo1,foo2,foo1"},
    };
    for (const Vector& v : vectors) {
        Hostlist hl = must_parse(v.in);
        EXPECT_EQ(join(hl.expand()), v.expanded) << v.in;
        EXPECT_EQ(hl, must_parse(v.expanded)) << v.in;
        EXPECT_EQ(must_parse(hl.encode()), hl) << v.in << " -> " << hl.encode();
    }
}

// Examples from the RFC 29 text.
TEST(HostlistRfc, TextExamples)
{
    EXPECT_EQ(join(must_parse("h[5,4,10,11,12,13]").expand()), "h5,h4,h10,h11,h12,h13");
    EXPECT_EQ(must_parse("h[5,4,11-13]"), must_parse("h[5,4,11,12,13]"));
    EXPECT_EQ(join(must_parse("[005,4,11-13]").expand()), "005,004,011,012,013");
    EXPECT_EQ(join(must_parse("[2,2,2]").expand()), "2,2,2");
    EXPECT_EQ(must_parse("host[0-10,12]").size(), 12u);
    EXPECT_EQ(must_parse("prefix[0-1024]").size(), 1025u);
}

TEST(HostlistEncode, Compressed)
{
    struct Case {
        const char* in;
        const char* encoded;
    };
    const Case cases[] = {
        {"", ""},
        {"foo", "foo"},
        {"foo1", "foo1"},
        {"foo[1]", "foo1"},
        {"foo1,foo2,foo3,foo5,bar", "foo[1-3,5],bar"},
        {"foo[0-4]-eth2", "foo[0-4]-eth2"},
        {"foo0-eth2,foo1-eth2,foo2-eth2", "foo[0-2]-eth2"},
        {"foo[1-2]-ib,foo3-ib", "foo[1-3]-ib"},
        {"foo1,foo1,foo1", "foo[1,1,1]"},
        {"foo[1,1,2,1]", "foo[1,1-2,1]"},
        {"[1-3,5-6]", "[1-3,5-6]"},
        {"1,2,3", "[1-3]"},
        {"foo[01-10]", "foo[01-10]"},
        {"foo01,foo02,foo03", "foo[01-03]"},
        {"foo[08-09],foo10,foo11", "foo[08-11]"},
        {"foo1,foo01", "foo1,foo01"},        // different padding: not merged
        {"foo[10-11],foo05", "foo[10-11],foo05"},
        {"foo05,foo10", "foo[05,10]"},
        {"foo[005,4,11-13]", "foo[005,004,011-013]"},
        {"foo3,foo2,foo1", "foo[3,2,1]"},    // order is kept
        {"a1,b1,a2", "a1,b1,a2"},
        {"foo,foo,bar", "foo,foo,bar"},
        {"rack1-node[1-4]", "rack1-node[1-4]"},
        {"rack1-node1,rack1-node2", "rack1-node[1-2]"},
        {"rack1-node1,rack2-node1", "rack[1-2]-node1"},
        {"foo[1-3],,bar", "foo[1-3],bar"},   // empty expression: empty list
        {"a[1-2]b,a3b,c", "a[1-3]b,c"},
        {"node4294967295", "node4294967295"},
        {"node99999999999999", "node99999999999999"},  // too big: plain name
    };
    for (const Case& c : cases) {
        Hostlist hl = must_parse(c.in);
        EXPECT_EQ(hl.encode(), c.encoded) << c.in;
        EXPECT_EQ(must_parse(hl.encode()), hl) << c.in;
    }
    EXPECT_EQ(join(must_parse("foo[005,4]").expand()), "foo005,foo004");
}

TEST(HostlistEncode, ZeroPadding)
{
    Hostlist hl = must_parse("foo[01-10]");
    EXPECT_EQ(hl.size(), 10u);
    EXPECT_EQ(hl.nth(0), "foo01");
    EXPECT_EQ(hl.nth(8), "foo09");
    EXPECT_EQ(hl.nth(9), "foo10");
    EXPECT_EQ(join(must_parse("[000-2]").expand()), "000,001,002");
    EXPECT_EQ(join(must_parse("n[099-101]").expand()), "n099,n100,n101");
    EXPECT_EQ(join(must_parse("n[0-1]").expand()), "n0,n1");
    EXPECT_EQ(join(must_parse("n[00]").expand()), "n00");
    EXPECT_EQ(must_parse("n[00]").encode(), "n00");
    // Only the first element's zeros count.
    EXPECT_EQ(join(must_parse("n[1,02]").expand()), "n1,n2");
    EXPECT_EQ(must_parse("n[098-100]").encode(), "n[098-100]");
}

TEST(HostlistEncode, Suffixes)
{
    Hostlist hl = must_parse("foo[1-2]-ib,bar[01-02].eth0");
    EXPECT_EQ(hl.expand(), (Hosts{"foo1-ib", "foo2-ib", "bar01.eth0", "bar02.eth0"}));
    EXPECT_EQ(hl.encode(), "foo[1-2]-ib,bar[01-02].eth0");
    EXPECT_EQ(join(must_parse("[1-2]x").expand()), "1x,2x");
    EXPECT_EQ(join(must_parse("x[1-2]").expand()), "x1,x2");
}

TEST(HostlistParse, Malformed)
{
    const char* bad[] = {
        "foo[1-",   "foo[a]",     "foo[3-1]",   "foo[1-]",  "foo[-1]",
        "foo[]",    "foo[1,,2]",  "foo[1,]",    "foo[,1]",  "foo[1-2-3]",
        "foo]",     "foo[[1]]",   "foo[1]]",    "[",        "]",
        "foo[1]bar[2]", "foo[1]x]", "foo bar",  " foo",     "foo ",
        "foo\tbar", "foo[1 ]",    "foo[ 1]",    "foo[4294967296]",
        "foo[0-99999999999]",     "fo\x01o",    "f\xc3\xa9",
        "foo[1]bar[2],x",         "a,b[",       "a,]b",
    };
    for (const char* s : bad) {
        auto r = Hostlist::parse(s);
        ASSERT_FALSE(r.has_value()) << "accepted '" << s << "'";
        EXPECT_EQ(r.error().errnum, EINVAL) << s;
        EXPECT_EQ(r.error().text.rfind("invalid hostlist '", 0), 0u) << r.error().text;
    }
    auto r = Hostlist::parse("foo[3-1]");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().text.rfind("invalid hostlist 'foo[3-1]': ", 0), 0u);
    EXPECT_NE(r.error().text.find("reversed"), std::string::npos);
    // Control bytes are escaped, long input is cut.
    r = Hostlist::parse("a\x01");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().text.find("\\x01"), std::string::npos) << r.error().text;
    r = Hostlist::parse(std::string(5000, 'a') + "[");
    ASSERT_FALSE(r);
    EXPECT_LT(r.error().text.size(), 200u);
}

TEST(HostlistQuery, NthFindContains)
{
    Hostlist hl = must_parse("foo[1-3],bar,foo[01-02],foo2");
    ASSERT_EQ(hl.size(), 7u);
    EXPECT_EQ(hl.nth(0), "foo1");
    EXPECT_EQ(hl.nth(2), "foo3");
    EXPECT_EQ(hl.nth(3), "bar");
    EXPECT_EQ(hl.nth(4), "foo01");
    EXPECT_EQ(hl.nth(6), "foo2");
    EXPECT_EQ(hl.nth(7), std::nullopt);
    EXPECT_EQ(hl.find("foo2"), 1u);  // first occurrence
    EXPECT_EQ(hl.find("bar"), 3u);
    EXPECT_EQ(hl.find("foo01"), 4u);
    EXPECT_EQ(hl.find("foo02"), 5u);
    EXPECT_EQ(hl.find("foo001"), std::nullopt);
    EXPECT_EQ(hl.find("foo4"), std::nullopt);
    EXPECT_EQ(hl.find("foo"), std::nullopt);
    EXPECT_EQ(hl.find(""), std::nullopt);
    EXPECT_TRUE(hl.contains("foo3"));
    EXPECT_FALSE(hl.contains("baz"));
    EXPECT_EQ(Hostlist{}.nth(0), std::nullopt);
    EXPECT_EQ(Hostlist{}.find("x"), std::nullopt);

    Hostlist big = must_parse("n[0-4294967295]");
    EXPECT_EQ(big.size(), 4294967296ull);
    EXPECT_EQ(big.nth(4294967295ull), "n4294967295");
    EXPECT_EQ(big.find("n4000000000"), 4000000000ull);
    EXPECT_EQ(big.encode(), "n[0-4294967295]");
}

TEST(HostlistQuery, Iteration)
{
    Hostlist hl = must_parse("a[1-2],b");
    Hosts seen(hl.begin(), hl.end());
    EXPECT_EQ(seen, (Hosts{"a1", "a2", "b"}));
    EXPECT_EQ(std::distance(hl.begin(), hl.end()), 3);
    Hostlist empty;
    EXPECT_EQ(empty.begin(), empty.end());
}

TEST(HostlistModify, Append)
{
    Hostlist hl;
    ASSERT_TRUE(hl.append("foo1"));
    ASSERT_TRUE(hl.append("foo[2-3]"));
    ASSERT_TRUE(hl.append("bar,foo4"));
    EXPECT_EQ(hl.encode(), "foo[1-3],bar,foo4");
    EXPECT_EQ(hl.size(), 5u);
    auto r = hl.append("baz,foo[");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, EINVAL);
    EXPECT_EQ(hl.encode(), "foo[1-3],bar,foo4");  // unchanged on error
    hl.append(must_parse("foo[5-6]"));
    EXPECT_EQ(hl.encode(), "foo[1-3],bar,foo[4-6]");
    hl.append(hl);
    EXPECT_EQ(hl.size(), 14u);
    EXPECT_EQ(hl.encode(), "foo[1-3],bar,foo[4-6,1-3],bar,foo[4-6]");
    hl.clear();
    EXPECT_TRUE(hl.empty());
    EXPECT_EQ(hl.encode(), "");
}

TEST(HostlistModify, SortAndUniq)
{
    Hostlist hl = must_parse("node10,node2,node1,alpha,node2,node[3-4],node02");
    hl.sort();
    EXPECT_EQ(hl.expand(),
              (Hosts{"alpha", "node1", "node2", "node2", "node02", "node3", "node4",
                     "node10"}));
    EXPECT_EQ(hl.encode(), "alpha,node[1-2,2],node02,node[3-4,10]");
    hl.uniq();
    EXPECT_EQ(hl.expand(),
              (Hosts{"alpha", "node1", "node2", "node02", "node3", "node4", "node10"}));
    Hostlist dup = must_parse("c,b,a,b,c,a");
    dup.uniq();
    EXPECT_EQ(dup.encode(), "a,b,c");
    Hostlist ranges = must_parse("n[5-9],n[1-6]");
    ranges.uniq();
    EXPECT_EQ(ranges.encode(), "n[1-9]");
    Hostlist empty;
    empty.sort();
    empty.uniq();
    EXPECT_TRUE(empty.empty());
}

TEST(HostlistModify, Equality)
{
    EXPECT_EQ(must_parse("foo[1-3]"), must_parse("foo1,foo2,foo3"));
    EXPECT_EQ(must_parse("[00-2]"), must_parse("[00-02]"));
    EXPECT_NE(must_parse("foo[1-3]"), must_parse("foo[1-2]"));
    EXPECT_NE(must_parse("foo[1-3]"), must_parse("foo[3,2,1]"));
    EXPECT_NE(must_parse("foo1"), must_parse("foo01"));
    EXPECT_EQ(Hostlist{}, must_parse(""));
}

TEST(HostlistRoundTrip, ExpandEncodeParse)
{
    const char* lists[] = {
        "foo[1-3,5],bar",        "foo[0-4]-eth2,foo[5-6]-eth3", "a1b2,a1b3,a2b3",
        "[0-3],x[0-3]y,y0",      "n[1,1,2,1],n2",               "q[0009-0011,3]",
        "x1y2z3,x1y2z4,x2y2z4",  "a,b,c,a1,a01,a001,a0001",      "0,00,000,1,01",
    };
    for (const char* s : lists) {
        Hostlist hl = must_parse(s);
        Hostlist from_expanded = must_parse(join(hl.expand()));
        EXPECT_EQ(from_expanded, hl) << s;
        EXPECT_EQ(must_parse(hl.encode()), hl) << s << " -> " << hl.encode();
        EXPECT_EQ(must_parse(from_expanded.encode()), hl) << s;
        EXPECT_EQ(must_parse(hl.encode()).encode(), hl.encode()) << s;
    }
}

namespace {

// Best of three wall-clock runs of f, in milliseconds (ignores a cold first run).
template <class F>
double best_ms(F&& f)
{
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        auto start = std::chrono::steady_clock::now();
        f();
        std::chrono::duration<double, std::milli> d = std::chrono::steady_clock::now() - start;
        best = std::min(best, d.count());
    }
    return best;
}

}  // namespace

TEST(HostlistPerf, SixteenThousandHosts)
{
    Hosts hosts;
    for (int i = 0; i < 16384; i++)
        hosts.push_back("node" + std::to_string(i));
    const std::string expanded = join(hosts);
    // Every other host, so the encoding holds 8192 ids.
    Hosts sparse;
    for (int i = 0; i < 16384; i += 2)
        sparse.push_back("n" + std::to_string(i) + "-ib");
    const std::string sparse_s = join(sparse);

    Hostlist a, c, d;
    std::string ea, ec;
    double dense_ms = best_ms([&] {
        a = must_parse(expanded);
        ea = a.encode();
    });
    double sparse_ms = best_ms([&] {
        c = must_parse(sparse_s);
        ec = c.encode();
        d = must_parse(ec);
    });
    std::cout << "16384 hosts parse+encode: " << dense_ms << " ms; 8192 sparse hosts "
              << "parse+encode+reparse: " << sparse_ms << " ms\n";
#if defined(__SANITIZE_ADDRESS__)
    const double limit_ms = 100.0;  // sanitizers slow this code about tenfold
#else
    const double limit_ms = 10.0;
#endif
    EXPECT_LT(dense_ms, limit_ms);
    EXPECT_LT(sparse_ms, limit_ms);

    EXPECT_EQ(ea, "node[0-16383]");
    EXPECT_EQ(a.size(), 16384u);
    EXPECT_EQ(a, must_parse("node[0-16383]"));
    EXPECT_EQ(a.find("node16383"), 16383u);
    EXPECT_EQ(a.expand(), hosts);
    EXPECT_EQ(c.size(), 8192u);
    EXPECT_EQ(ec.rfind("n[0,2,4,", 0), 0u);
    EXPECT_EQ(d, c);
    EXPECT_EQ(d.expand(), sparse);
}

// Random short inputs: the parser never crashes, and whatever it accepts
// survives an encode/parse round trip.
TEST(HostlistFuzz, RandomInputs)
{
    const std::string alphabet = "019-,[]ab.";
    std::uint32_t seed = 7;
    auto rnd = [&seed](std::uint32_t n) {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 16) % n;
    };
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        std::string s;
        std::uint32_t len = rnd(12);
        for (std::uint32_t i = 0; i < len; i++)
            s += alphabet[rnd(static_cast<std::uint32_t>(alphabet.size()))];
        auto r = Hostlist::parse(s);
        if (!r) {
            EXPECT_EQ(r.error().errnum, EINVAL);
            continue;
        }
        accepted++;
        if (r->size() > 5000)
            continue;
        auto again = Hostlist::parse(r->encode());
        ASSERT_TRUE(again) << s << " -> " << r->encode();
        EXPECT_EQ(again->expand(), r->expand()) << s << " -> " << r->encode();
        EXPECT_EQ(must_parse(join(r->expand())), *r) << s;
    }
    EXPECT_GT(accepted, 1000);
}

// Random host sequences built from a few patterns: listing them one by one
// and encoding gives back the same sequence.
TEST(HostlistFuzz, RandomHostSequences)
{
    const char* prefixes[] = {"n", "rack1-n", "x"};
    const char* suffixes[] = {"", "-ib", "b2"};
    std::uint32_t seed = 99;
    auto rnd = [&seed](std::uint32_t n) {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 16) % n;
    };
    for (int round = 0; round < 2000; round++) {
        Hosts hosts;
        std::uint32_t n = rnd(12);
        for (std::uint32_t i = 0; i < n; i++) {
            std::string num = std::to_string(rnd(14));
            if (rnd(4) == 0)
                num = "0" + num;
            hosts.push_back(prefixes[rnd(3)] + num + suffixes[rnd(3)]);
        }
        Hostlist hl = must_parse(join(hosts));
        ASSERT_EQ(hl.expand(), hosts) << join(hosts);
        EXPECT_EQ(must_parse(hl.encode()).expand(), hosts) << join(hosts) << " -> " << hl.encode();
        for (std::size_t i = 0; i < hosts.size(); i++) {
            EXPECT_EQ(hl.nth(i), hosts[i]);
            auto first = std::find(hosts.begin(), hosts.end(), hosts[i]) - hosts.begin();
            EXPECT_EQ(hl.find(hosts[i]), static_cast<std::size_t>(first));
        }
        Hosts sorted = hosts;
        hl.sort();
        EXPECT_EQ(hl.size(), hosts.size());
        EXPECT_TRUE(std::is_permutation(sorted.begin(), sorted.end(), hl.begin()));
        hl.uniq();
        std::sort(sorted.begin(), sorted.end());
        sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
        EXPECT_EQ(hl.size(), sorted.size());
    }
}
