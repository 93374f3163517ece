// Unit tests for flux::IdSet (RFC 22 idsets).
#include "flux/idset.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <vector>

using flux::IdSet;

static_assert(std::forward_iterator<IdSet::Iterator>);

namespace {

IdSet must_parse(std::string_view s)
{
    auto r = IdSet::parse(s);
    EXPECT_TRUE(r.has_value()) << "parse '" << s << "': "
                               << (r ? "" : r.error().text);
    return r ? *r : IdSet{};
}

std::vector<std::uint32_t> members(const IdSet& set)
{
    return std::vector<std::uint32_t>(set.begin(), set.end());
}

}  // namespace

// The examples given in RFC 22 all denote the same set.
TEST(IdSetRfc, Examples)
{
    const std::vector<std::uint32_t> want{1, 2, 3, 5, 6, 42};
    for (const char* s : {"1,2,3,5,6,42", "1-3,5-6,42", "[1-3,5-6,42]"}) {
        IdSet set = must_parse(s);
        EXPECT_EQ(members(set), want) << s;
        EXPECT_EQ(set.encode(), "1-3,5-6,42") << s;
        EXPECT_EQ(set.encode(true), "[1-3,5-6,42]") << s;
        EXPECT_EQ(set.encode_expanded(), "1,2,3,5,6,42") << s;
        EXPECT_EQ(set.count(), 6u);
    }
}

TEST(IdSetParse, ValidForms)
{
    struct Case {
        const char* in;
        const char* ranged;
        std::uint64_t count;
    };
    const Case cases[] = {
        {"", "", 0},
        {"[]", "", 0},
        {"0", "0", 1},
        {"1", "1", 1},
        {"[7]", "7", 1},
        {"1-3", "1-3", 3},
        {"[1-3]", "1-3", 3},
        {"1,3,5-7", "1,3,5-7", 5},
        {"0-1", "0-1", 2},
        {"3-3", "3", 1},
        {"5,4,3", "3-5", 3},          // out of order is merged
        {"1,1,1", "1", 1},            // duplicates are merged
        {"1-5,3-8", "1-8", 8},        // overlaps are merged
        {"1-2,3-4", "1-4", 4},        // adjacent ranges are merged
        {"10,2-4,0", "0,2-4,10", 5},
        {"4294967294", "4294967294", 1},
        {"0-4294967294", "0-4294967294", 4294967295ull},
    };
    for (const Case& c : cases) {
        IdSet set = must_parse(c.in);
        EXPECT_EQ(set.encode(), c.ranged) << c.in;
        EXPECT_EQ(set.count(), c.count) << c.in;
        EXPECT_EQ(set.empty(), c.count == 0) << c.in;
    }
}

TEST(IdSetParse, Malformed)
{
    const char* bad[] = {
        "1-",   "-1",    "3-1",     "a",        "1,,2",       ",1",
        "1,",   "1-2-3", "[1-3",    "1-3]",     "[[1]]",      "[",
        "]",    " 1",    "1 ",      "1, 2",     "01",         "1-02",
        "00",   "+1",    "1x",      "x1",       "4294967295", "4294967296",
        "0-4294967295",  "99999999999999999999", "1;2",       "1.5",
        "[1]]", "1-3,a",
    };
    for (const char* s : bad) {
        auto r = IdSet::parse(s);
        ASSERT_FALSE(r.has_value()) << "accepted '" << s << "'";
        EXPECT_EQ(r.error().errnum, EINVAL) << s;
        EXPECT_NE(r.error().text.find(std::string("'") + s + "'"), std::string::npos)
            << "message does not quote input: " << r.error().text;
    }
}

TEST(IdSetParse, ErrorMessageNamesProblem)
{
    auto r = IdSet::parse("1-x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().text.rfind("invalid idset '1-x': ", 0), 0u) << r.error().text;
    r = IdSet::parse("3-1");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().text.find("reversed"), std::string::npos);
    r = IdSet::parse("01");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().text.find("leading zero"), std::string::npos);
}

TEST(IdSetParse, LongInputIsTruncatedInMessage)
{
    std::string s(10000, '1');
    auto r = IdSet::parse(s);
    ASSERT_FALSE(r);
    EXPECT_LT(r.error().text.size(), 200u);
    r = IdSet::parse("1\n2");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().text.find("'1\\x0a2'"), std::string::npos) << r.error().text;
}

TEST(IdSetEncode, BracketsOnlyForMoreThanOneId)
{
    EXPECT_EQ(IdSet{}.encode(true), "");
    EXPECT_EQ(must_parse("5").encode(true), "5");
    EXPECT_EQ(must_parse("5-6").encode(true), "[5-6]");
    EXPECT_EQ(must_parse("0-3,5").encode(true), "[0-3,5]");
    EXPECT_EQ(must_parse("0-3,5").encode_expanded(), "0,1,2,3,5");
    EXPECT_EQ(must_parse("0-3,5").encode_expanded(true), "[0,1,2,3,5]");
    EXPECT_EQ(must_parse("5").encode_expanded(true), "5");
}

TEST(IdSetEncode, RoundTrip)
{
    for (const char* s : {"", "0", "0-3,5", "1,3,5,7", "2-4294967294", "0,4294967294"}) {
        IdSet set = must_parse(s);
        EXPECT_EQ(must_parse(set.encode()), set) << s;
        EXPECT_EQ(must_parse(set.encode(true)), set) << s;
        EXPECT_EQ(set.encode(), s);
    }
    IdSet set = must_parse("0-20,40,45-47");
    EXPECT_EQ(must_parse(set.encode_expanded()), set);
}

TEST(IdSetMembers, InsertErase)
{
    IdSet set;
    ASSERT_TRUE(set.insert(5));
    ASSERT_TRUE(set.insert(3));
    ASSERT_TRUE(set.insert(4));  // bridges 3 and 5
    EXPECT_EQ(set.encode(), "3-5");
    EXPECT_EQ(set.ranges().size(), 1u);
    ASSERT_TRUE(set.insert_range(10, 12));
    ASSERT_TRUE(set.insert_range(0, 1));
    EXPECT_EQ(set.encode(), "0-1,3-5,10-12");
    ASSERT_TRUE(set.insert_range(2, 9));  // joins everything
    EXPECT_EQ(set.encode(), "0-12");
    set.erase(6);
    EXPECT_EQ(set.encode(), "0-5,7-12");
    set.erase(6);  // non-member: no-op
    set.erase(100);
    EXPECT_EQ(set.encode(), "0-5,7-12");
    ASSERT_TRUE(set.erase_range(4, 8));
    EXPECT_EQ(set.encode(), "0-3,9-12");
    ASSERT_TRUE(set.erase_range(0, 0));
    ASSERT_TRUE(set.erase_range(12, 100));
    EXPECT_EQ(set.encode(), "1-3,9-11");
    ASSERT_TRUE(set.erase_range(0, IdSet::max_id));
    EXPECT_TRUE(set.empty());
    ASSERT_TRUE(set.insert(7));
    set.clear();
    EXPECT_TRUE(set.empty());
    EXPECT_EQ(set.count(), 0u);
}

TEST(IdSetMembers, InsertEraseSpanningManyRanges)
{
    IdSet set = must_parse("0,2,4,6,8,10,12");
    ASSERT_TRUE(set.erase_range(3, 9));
    EXPECT_EQ(set.encode(), "0,2,10,12");
    ASSERT_TRUE(set.insert_range(1, 11));
    EXPECT_EQ(set.encode(), "0-12");
    ASSERT_TRUE(set.erase_range(1, 11));
    EXPECT_EQ(set.encode(), "0,12");
}

TEST(IdSetMembers, InvalidArguments)
{
    IdSet set;
    auto r = set.insert(UINT32_MAX);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, EINVAL);
    EXPECT_FALSE(set.insert_range(5, 4));
    EXPECT_FALSE(set.insert_range(0, UINT32_MAX));
    EXPECT_FALSE(set.erase_range(5, 4));
    EXPECT_TRUE(set.empty());
    set.erase(UINT32_MAX);  // harmless
    EXPECT_FALSE(set.contains(UINT32_MAX));
}

TEST(IdSetQuery, ContainsFirstLastNextNth)
{
    IdSet set = must_parse("2-4,7,10-11");
    EXPECT_FALSE(set.contains(0));
    EXPECT_FALSE(set.contains(1));
    EXPECT_TRUE(set.contains(2));
    EXPECT_TRUE(set.contains(4));
    EXPECT_FALSE(set.contains(5));
    EXPECT_TRUE(set.contains(7));
    EXPECT_TRUE(set.contains(11));
    EXPECT_FALSE(set.contains(12));
    EXPECT_EQ(set.first(), 2u);
    EXPECT_EQ(set.last(), 11u);
    EXPECT_EQ(set.next(0), 2u);
    EXPECT_EQ(set.next(2), 3u);
    EXPECT_EQ(set.next(4), 7u);
    EXPECT_EQ(set.next(5), 7u);
    EXPECT_EQ(set.next(7), 10u);
    EXPECT_EQ(set.next(10), 11u);
    EXPECT_EQ(set.next(11), std::nullopt);
    EXPECT_EQ(set.next(UINT32_MAX), std::nullopt);
    EXPECT_EQ(set.nth(0), 2u);
    EXPECT_EQ(set.nth(2), 4u);
    EXPECT_EQ(set.nth(3), 7u);
    EXPECT_EQ(set.nth(5), 11u);
    EXPECT_EQ(set.nth(6), std::nullopt);
    EXPECT_EQ(members(set), (std::vector<std::uint32_t>{2, 3, 4, 7, 10, 11}));

    IdSet empty;
    EXPECT_EQ(empty.first(), std::nullopt);
    EXPECT_EQ(empty.last(), std::nullopt);
    EXPECT_EQ(empty.next(0), std::nullopt);
    EXPECT_EQ(empty.nth(0), std::nullopt);
    EXPECT_EQ(empty.begin(), empty.end());
}

TEST(IdSetQuery, IterationWithNext)
{
    IdSet set = must_parse("0,5-6,4294967294");
    std::vector<std::uint32_t> seen;
    for (auto id = set.first(); id; id = set.next(*id))
        seen.push_back(*id);
    EXPECT_EQ(seen, members(set));
    EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 5, 6, 4294967294u}));
    auto it = set.begin();
    EXPECT_EQ(*it++, 0u);
    EXPECT_EQ(*it, 5u);
    EXPECT_EQ(std::distance(set.begin(), set.end()), 4);
}

TEST(IdSetOps, UnionDifferenceIntersection)
{
    IdSet a = must_parse("1-10,20-30,50");
    IdSet b = must_parse("5-25,40,50-60");
    EXPECT_EQ((a | b).encode(), "1-30,40,50-60");
    EXPECT_EQ((a - b).encode(), "1-4,26-30");
    EXPECT_EQ((b - a).encode(), "11-19,40,51-60");
    EXPECT_EQ((a & b).encode(), "5-10,20-25,50");
    EXPECT_EQ(set_union(a, b), b | a);
    EXPECT_EQ(set_intersection(a, b), b & a);
    EXPECT_EQ(set_difference(a, b), a - b);
    // Identities.
    IdSet empty;
    EXPECT_EQ(a | empty, a);
    EXPECT_EQ(a & empty, empty);
    EXPECT_EQ(a - empty, a);
    EXPECT_EQ(empty - a, empty);
    EXPECT_EQ(a - a, empty);
    EXPECT_EQ(a & a, a);
    EXPECT_EQ((a - b) | (a & b), a);
    // Adjacent ranges from both sides coalesce.
    EXPECT_EQ((must_parse("1-3,7") | must_parse("4-6")).encode(), "1-7");
    // A subtrahend range spanning several ranges.
    EXPECT_EQ((must_parse("1-2,4-5,7-8,10") - must_parse("2-8")).encode(), "1,10");
    // Compound forms.
    IdSet c = a;
    c |= b;
    EXPECT_EQ(c, a | b);
    c = a;
    c -= b;
    EXPECT_EQ(c, a - b);
    c = a;
    c &= b;
    EXPECT_EQ(c, a & b);
}

TEST(IdSetOps, MatchesBruteForce)
{
    // Pseudo-random small sets checked against a bitmap.
    std::uint32_t seed = 12345;
    auto rnd = [&seed]() {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 16) & 0x3f;
    };
    for (int round = 0; round < 200; round++) {
        IdSet a, b;
        bool ba[64] = {}, bb[64] = {};
        for (int i = 0; i < 20; i++) {
            std::uint32_t x = rnd(), y = rnd();
            ASSERT_TRUE(a.insert(x));
            ba[x] = true;
            if (y % 3 == 0) {
                a.erase(y);
                ba[y] = false;
            }
            ASSERT_TRUE(b.insert(y));
            bb[y] = true;
        }
        IdSet u = a | b, d = a - b, n = a & b;
        for (std::uint32_t i = 0; i < 64; i++) {
            EXPECT_EQ(a.contains(i), ba[i]);
            EXPECT_EQ(u.contains(i), ba[i] || bb[i]);
            EXPECT_EQ(d.contains(i), ba[i] && !bb[i]);
            EXPECT_EQ(n.contains(i), ba[i] && bb[i]);
        }
        EXPECT_EQ(must_parse(u.encode()), u);
        EXPECT_EQ(must_parse(d.encode_expanded()), d);
    }
}

TEST(IdSetLarge, HugeSetsAreCheap)
{
    auto start = std::chrono::steady_clock::now();
    IdSet all = must_parse("0-4294967294");
    EXPECT_EQ(all.count(), 4294967295ull);
    EXPECT_EQ(all.ranges().size(), 1u);
    EXPECT_TRUE(all.contains(IdSet::max_id));
    EXPECT_EQ(all.last(), IdSet::max_id);
    EXPECT_EQ(all.nth(4294967294ull), IdSet::max_id);
    EXPECT_EQ(all.nth(4294967295ull), std::nullopt);
    EXPECT_EQ(all.next(IdSet::max_id), std::nullopt);
    EXPECT_EQ(all.next(IdSet::max_id - 1), IdSet::max_id);

    IdSet odd = must_parse("1,3,5,7");
    IdSet diff = all - odd;
    EXPECT_EQ(diff.encode(), "0,2,4,6,8-4294967294");
    EXPECT_EQ(diff.count(), 4294967291ull);
    EXPECT_EQ(diff | odd, all);
    EXPECT_EQ(all & odd, odd);
    EXPECT_EQ((all - all).count(), 0u);
    IdSet high = must_parse("4000000000-4294967294");
    EXPECT_EQ((all - high).encode(), "0-3999999999");
    all.erase(2000000000);
    EXPECT_EQ(all.encode(), "0-1999999999,2000000001-4294967294");
    ASSERT_TRUE(all.insert(2000000000));
    EXPECT_EQ(all.encode(), "0-4294967294");
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::milliseconds(100));
}

TEST(IdSetLarge, ManyRanges)
{
    // 50000 disjoint ranges, parsed in descending order, then set algebra.
    std::string s;
    for (int i = 49999; i >= 0; i--) {
        if (!s.empty())
            s += ',';
        s += std::to_string(i * 4) + "-" + std::to_string(i * 4 + 1);
    }
    IdSet a = must_parse(s);
    EXPECT_EQ(a.ranges().size(), 50000u);
    EXPECT_EQ(a.count(), 100000u);
    IdSet b;
    ASSERT_TRUE(b.insert_range(0, 199999));
    EXPECT_EQ((b - a).count(), 100000u);
    EXPECT_EQ((b - a) | a, b);
    EXPECT_EQ(a & b, a);
    EXPECT_EQ(must_parse(a.encode()), a);
}

// Random short inputs: the parser never crashes, and whatever it accepts
// survives an encode/parse round trip.
TEST(IdSetFuzz, RandomInputs)
{
    const std::string alphabet = "0129-,[]a";
    std::uint32_t seed = 3;
    auto rnd = [&seed](std::uint32_t n) {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 16) % n;
    };
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        std::string s;
        std::uint32_t len = rnd(10);
        for (std::uint32_t i = 0; i < len; i++)
            s += alphabet[rnd(static_cast<std::uint32_t>(alphabet.size()))];
        auto r = IdSet::parse(s);
        if (!r) {
            EXPECT_EQ(r.error().errnum, EINVAL);
            continue;
        }
        accepted++;
        EXPECT_EQ(must_parse(r->encode()), *r) << s;
        EXPECT_EQ(must_parse(r->encode(true)), *r) << s;
    }
    EXPECT_GT(accepted, 500);
}
