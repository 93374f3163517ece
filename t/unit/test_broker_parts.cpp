// Unit tests for broker pieces: TBON Topology arithmetic, Attributes rules, the LogBuf ring and level names.
#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/attr.hpp"
#include "broker/logbuf.hpp"
#include "broker/overlay.hpp"

using namespace flux::broker;

namespace {

// Reference: is `a` a proper ancestor of `r`, walking parents one by one?
bool is_ancestor(const Topology& t, uint32_t a, uint32_t r)
{
    for (auto p = t.parent(r); p; p = t.parent(*p))
        if (*p == a)
            return true;
    return false;
}

}  // namespace

TEST(Topology, ParentChildrenConsistent)
{
    for (uint32_t fanout : {1u, 2u, 3u}) {
        for (uint32_t size = 1; size <= 20; size++) {
            Topology t{size, fanout};
            SCOPED_TRACE("fanout " + std::to_string(fanout) + " size " + std::to_string(size));
            EXPECT_FALSE(t.parent(0));
            EXPECT_FALSE(t.parent(size));
            EXPECT_TRUE(t.children(size).empty());
            size_t nchildren = 0;
            for (uint32_t r = 0; r < size; r++) {
                auto kids = t.children(r);
                EXPECT_LE(kids.size(), fanout);
                nchildren += kids.size();
                for (uint32_t c : kids) {
                    EXPECT_LT(c, size);
                    EXPECT_EQ(t.parent(c), std::optional<uint32_t>(r));
                }
                if (r > 0) {
                    auto p = t.parent(r);
                    ASSERT_TRUE(p);
                    EXPECT_LT(*p, r);
                    auto siblings = t.children(*p);
                    EXPECT_NE(std::find(siblings.begin(), siblings.end(), r), siblings.end());
                }
            }
            EXPECT_EQ(nchildren, size - 1u);  // every rank but 0 is someone's child
        }
    }
}

TEST(Topology, ChildTowardEveryPair)
{
    for (uint32_t fanout : {1u, 2u, 3u}) {
        for (uint32_t size = 1; size <= 20; size++) {
            Topology t{size, fanout};
            SCOPED_TRACE("fanout " + std::to_string(fanout) + " size " + std::to_string(size));
            for (uint32_t r = 0; r < size; r++) {
                for (uint32_t target = 0; target <= size; target++) {
                    auto c = t.child_toward(r, target);
                    if (target >= size || !is_ancestor(t, r, target)) {
                        EXPECT_FALSE(c) << r << "->" << target;
                        continue;
                    }
                    ASSERT_TRUE(c) << r << "->" << target;
                    EXPECT_EQ(t.parent(*c), std::optional<uint32_t>(r));
                    EXPECT_TRUE(*c == target || is_ancestor(t, *c, target)) << r << "->" << target;
                }
            }
        }
    }
}

TEST(Topology, Descendants)
{
    for (uint32_t fanout : {1u, 2u, 3u}) {
        for (uint32_t size = 1; size <= 20; size++) {
            Topology t{size, fanout};
            SCOPED_TRACE("fanout " + std::to_string(fanout) + " size " + std::to_string(size));
            EXPECT_EQ(t.descendants(0).size(), size - 1u);
            for (uint32_t r = 0; r < size; r++) {
                auto d = t.descendants(r);
                std::set<uint32_t> got(d.begin(), d.end());
                EXPECT_EQ(got.size(), d.size());  // no duplicates
                std::set<uint32_t> want;
                for (uint32_t x = 0; x < size; x++)
                    if (is_ancestor(t, r, x))
                        want.insert(x);
                EXPECT_EQ(got, want) << "rank " << r;
            }
        }
    }
}

TEST(Topology, KnownShapes)
{
    Topology bin{7, 2};
    EXPECT_EQ(bin.children(0), (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(bin.children(2), (std::vector<uint32_t>{5, 6}));
    EXPECT_EQ(bin.child_toward(0, 6), std::optional<uint32_t>(2));
    EXPECT_EQ(bin.child_toward(1, 4), std::optional<uint32_t>(4));
    EXPECT_FALSE(bin.child_toward(1, 5));
    EXPECT_FALSE(bin.child_toward(3, 3));
    Topology chain{5, 1};
    EXPECT_EQ(chain.child_toward(1, 4), std::optional<uint32_t>(2));
    EXPECT_EQ(chain.descendants(2).size(), 2u);
    Topology flat{4, 3};
    EXPECT_EQ(flat.children(0), (std::vector<uint32_t>{1, 2, 3}));
    EXPECT_TRUE(flat.descendants(1).empty());
}

TEST(Attributes, RuntimeSetAndRemove)
{
    Attributes a;
    EXPECT_FALSE(a.get("x"));
    EXPECT_EQ(a.get_or("x", "dflt"), "dflt");
    ASSERT_TRUE(a.set_runtime("x", "1").has_value());
    EXPECT_EQ(a.get("x"), std::optional<std::string>("1"));
    EXPECT_EQ(a.flags("x"), 0u);
    ASSERT_TRUE(a.set_runtime("x", "2").has_value());
    EXPECT_EQ(a.get_or("x", "dflt"), "2");
    ASSERT_TRUE(a.remove("x").has_value());
    EXPECT_FALSE(a.get("x"));
    auto r = a.remove("x");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, ENOENT);
}

TEST(Attributes, ReadonlyAndImmutableRefuseChanges)
{
    Attributes a;
    a.set_internal("rank", "0");  // readonly by default
    EXPECT_EQ(a.flags("rank"), static_cast<unsigned>(Attributes::readonly));
    a.set_internal("tbon.fanout", "2", Attributes::immutable);
    a.set_initial("log-level", "6");
    a.freeze("log-level");
    EXPECT_TRUE(a.flags("log-level") & Attributes::immutable);
    a.freeze("no-such-attr");  // no effect, no entry created
    EXPECT_FALSE(a.get("no-such-attr"));

    for (const char* name : {"rank", "tbon.fanout", "log-level"}) {
        SCOPED_TRACE(name);
        std::string before = *a.get(name);
        auto s = a.set_runtime(name, "changed");
        ASSERT_FALSE(s.has_value());
        EXPECT_EQ(s.error().errnum, EPERM);
        auto rm = a.remove(name);
        ASSERT_FALSE(rm.has_value());
        EXPECT_EQ(rm.error().errnum, EPERM);
        EXPECT_EQ(a.get(name), std::optional<std::string>(before));
    }
    a.set_internal("rank", "1");  // the broker itself may still change them
    EXPECT_EQ(a.get_or("rank", ""), "1");

    a.set_initial("plain", "v");
    ASSERT_TRUE(a.set_runtime("plain", "w").has_value());
    auto l = a.list();
    ASSERT_EQ(l.size(), 4u);
    EXPECT_TRUE(std::is_sorted(l.begin(), l.end()));
    EXPECT_EQ(l[1], (std::pair<std::string, std::string>{"plain", "w"}));
}

TEST(LogBuf, CapacityAndSeq)
{
    LogBuf lb(3);
    EXPECT_EQ(lb.last_seq(), 0u);
    for (int i = 1; i <= 5; i++) {
        LogEntry e;
        e.message = "m" + std::to_string(i);
        e.seq = 999;  // overwritten
        EXPECT_EQ(lb.append(e), static_cast<uint64_t>(i));
    }
    EXPECT_EQ(lb.last_seq(), 5u);
    ASSERT_EQ(lb.entries().size(), 3u);
    EXPECT_EQ(lb.entries().front().seq, 3u);
    EXPECT_EQ(lb.entries().front().message, "m3");
    EXPECT_EQ(lb.entries().back().seq, 5u);

    lb.set_capacity(1);
    ASSERT_EQ(lb.entries().size(), 1u);
    EXPECT_EQ(lb.entries().front().message, "m5");
    lb.set_capacity(0);  // clamped to 1
    lb.append(LogEntry{});
    ASSERT_EQ(lb.entries().size(), 1u);
    EXPECT_EQ(lb.entries().front().seq, 6u);

    lb.clear();
    EXPECT_TRUE(lb.entries().empty());
    EXPECT_EQ(lb.append(LogEntry{}), 7u);  // sequence keeps counting
    lb.set_capacity(10);
    for (int i = 0; i < 20; i++)
        lb.append(LogEntry{});
    EXPECT_EQ(lb.entries().size(), 10u);
    EXPECT_EQ(lb.entries().front().seq, 18u);
    EXPECT_EQ(lb.last_seq(), 27u);
}

TEST(LogBuf, Levels)
{
    const char* names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    for (int i = 0; i <= 7; i++) {
        EXPECT_STREQ(level_name(i), names[i]);
        EXPECT_EQ(parse_level(names[i]), i);
        EXPECT_EQ(parse_level(std::to_string(i)), i);
    }
    EXPECT_EQ(parse_level("error"), 3);
    EXPECT_EQ(parse_level("warn"), 4);
    for (const char* bad : {"", "8", "-1", "10", "07", "Info", "info ", "debugx", "x"})
        EXPECT_EQ(parse_level(bad), -1) << "'" << bad << "'";
    EXPECT_STREQ(level_name(-1), "?");
    EXPECT_STREQ(level_name(8), "?");
}
