// Unit tests for flux::Rlist (RFC 20 R version 1 resource sets).
#include "flux/rlist.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using flux::Hostlist;
using flux::IdSet;
using flux::Rlist;
using nlohmann::json;

namespace {

IdSet ids(std::string_view s)
{
    auto r = IdSet::parse(s);
    EXPECT_TRUE(r.has_value()) << s;
    return r ? *r : IdSet{};
}

Rlist must_parse(const std::string& text)
{
    auto r = Rlist::parse(text);
    EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().text);
    return r ? *r : Rlist{};
}

// An R document with one R_lite entry per element of `entries`
// ({rank, core, gpu}; gpu "" is left out), plus optional extra
// execution keys given as a JSON object text.
std::string make_R(const std::vector<std::vector<std::string>>& entries, const std::string& extra = "{}")
{
    json R_lite = json::array();
    for (const auto& e : entries) {
        json children = {{"core", e.at(1)}};
        if (e.size() > 2 && !e[2].empty())
            children["gpu"] = e[2];
        R_lite.push_back({{"rank", e.at(0)}, {"children", children}});
    }
    json exec = json::parse(extra);
    exec["R_lite"] = R_lite;
    return json{{"version", 1}, {"execution", exec}}.dump();
}

std::string error_of(const std::string& text)
{
    auto r = Rlist::parse(text);
    EXPECT_FALSE(r.has_value()) << "expected failure: " << text;
    if (r)
        return "";
    EXPECT_EQ(r.error().errnum, EINVAL) << text;
    return r.error().text;
}

// The example R of RFC 20 (data/spec_20/example1.json).
const char* rfc20_example = R"({
  "version": 1,
  "execution": {
    "R_lite": [
      {
        "rank": "19-22",
        "children": {
          "core": "0-47",
          "gpu": "0-7"
        }
      }
    ],
    "nodelist": [
      "node[186-189]"
    ],
    "nslots": 32,
    "starttime": 1676560542,
    "expiration": 1676562342
  }
})";

}  // namespace

TEST(RlistRfc, Example1)
{
    Rlist rl = must_parse(rfc20_example);
    EXPECT_EQ(rl.ranks(), ids("19-22"));
    EXPECT_EQ(rl.nnodes(), 4u);
    EXPECT_EQ(rl.ncores(), 4u * 48);
    EXPECT_EQ(rl.ngpus(), 4u * 8);
    EXPECT_EQ(rl.counts(), (Rlist::Counts{4, 192, 32}));
    EXPECT_EQ(rl.nodelist().encode(), "node[186-189]");
    EXPECT_EQ(*rl.hostname_of(19), "node186");
    EXPECT_EQ(*rl.hostname_of(22), "node189");
    EXPECT_EQ(*rl.rank_of("node188"), 21u);
    EXPECT_EQ(*rl.cores_of(20), ids("0-47"));
    EXPECT_EQ(*rl.gpus_of(20), ids("0-7"));
    EXPECT_EQ(rl.starttime(), 1676560542.0);
    EXPECT_EQ(rl.expiration(), 1676562342.0);
    EXPECT_FALSE(rl.scheduling());
    EXPECT_EQ(rl.to_string(), "rank[19-22]/core[0-47],gpu[0-7]");
}

TEST(RlistRfc, Example1RoundTrip)
{
    Rlist rl = must_parse(rfc20_example);
    std::string out = rl.to_json();
    json j = json::parse(out);
    EXPECT_EQ(j["version"], 1);
    EXPECT_EQ(j["execution"]["R_lite"], json::parse(R"([{"rank":"19-22","children":{"core":"0-47","gpu":"0-7"}}])"));
    EXPECT_EQ(j["execution"]["nodelist"], json::parse(R"(["node[186-189]"])"));
    EXPECT_EQ(j["execution"]["starttime"], 1676560542.0);
    EXPECT_EQ(j["execution"]["expiration"], 1676562342.0);
    EXPECT_FALSE(j.contains("scheduling"));
    EXPECT_FALSE(j["execution"].contains("properties"));
    Rlist again = must_parse(out);
    EXPECT_EQ(again, rl);
    EXPECT_EQ(again.to_json(), out);
}

TEST(RlistCodec, MinimalWithoutNodelist)
{
    Rlist rl = must_parse(make_R({{"0-1", "0-3"}}));
    EXPECT_EQ(*rl.hostname_of(0), "");
    EXPECT_TRUE(rl.nodelist().empty());
    json j = json::parse(rl.to_json());
    EXPECT_FALSE(j["execution"].contains("nodelist"));  // hosts unknown
    EXPECT_EQ(j["execution"]["starttime"], 0.0);
    EXPECT_EQ(j["execution"]["expiration"], 0.0);
    EXPECT_EQ(must_parse(rl.to_json()), rl);
}

TEST(RlistCodec, EmptySet)
{
    Rlist rl = must_parse(make_R({}, R"({"nodelist": []})"));
    EXPECT_TRUE(rl.empty());
    EXPECT_EQ(rl.counts(), (Rlist::Counts{0, 0, 0}));
    json j = json::parse(rl.to_json());
    EXPECT_EQ(j["execution"]["R_lite"], json::array());
    EXPECT_EQ(j["execution"]["nodelist"], json::array());
    EXPECT_EQ(must_parse(rl.to_json()), rl);
    EXPECT_EQ(Rlist{}.to_json(), rl.to_json());
    EXPECT_EQ(rl.to_string(), "");
}

TEST(RlistCodec, GroupsIdenticalChildrenOnEmit)
{
    // One entry per rank on input; equal children regroup on output,
    // entries ordered by their first rank.
    Rlist rl = must_parse(make_R(
        {{"0", "0-3"}, {"1", "0-3"}, {"2", "0-3", "0"}, {"3", "0-1"}, {"4", "0-3"}, {"5", "0-3", "0"}, {"6", "0-3"}}));
    json j = json::parse(rl.to_json());
    EXPECT_EQ(j["execution"]["R_lite"], json::parse(R"([
        {"rank":"0-1,4,6","children":{"core":"0-3"}},
        {"rank":"2,5","children":{"core":"0-3","gpu":"0"}},
        {"rank":"3","children":{"core":"0-1"}}])"));
    EXPECT_EQ(rl.to_string(), "rank[0-1,4,6]/core[0-3] rank[2,5]/core[0-3],gpu0 rank3/core[0-1]");
    EXPECT_EQ(must_parse(rl.to_json()), rl);
}

TEST(RlistCodec, GpuOnlyAndEmptyRanks)
{
    // flux-core leaves "core" out of a gpu-only rank; we accept that and
    // always write "core" back.
    std::string text = R"({"version":1,"execution":{"R_lite":[
        {"rank":"0","children":{"gpu":"0-1"}},
        {"rank":"1","children":{"core":""}}],"nodelist":["n[0-1]"]}})";
    Rlist rl = must_parse(text);
    EXPECT_EQ(rl.nnodes(), 2u);
    EXPECT_EQ(rl.ncores(), 0u);
    EXPECT_EQ(rl.ngpus(), 2u);
    json j = json::parse(rl.to_json());
    EXPECT_EQ(j["execution"]["R_lite"], json::parse(R"([
        {"rank":"0","children":{"core":"","gpu":"0-1"}},
        {"rank":"1","children":{"core":""}}])"));
    EXPECT_EQ(rl.to_string(), "rank0/gpu[0-1]");
    EXPECT_EQ(must_parse(rl.to_json()), rl);
}

TEST(RlistCodec, NodelistExpandsInRankOrder)
{
    // Entries out of rank order; the nodelist still follows ascending rank.
    Rlist rl = must_parse(make_R({{"2-3", "0"}, {"0-1", "0-1"}}, R"({"nodelist": ["foo[0-1]", "bar,baz"]})"));
    EXPECT_EQ(*rl.hostname_of(0), "foo0");
    EXPECT_EQ(*rl.hostname_of(1), "foo1");
    EXPECT_EQ(*rl.hostname_of(2), "bar");
    EXPECT_EQ(*rl.hostname_of(3), "baz");
    EXPECT_EQ(*rl.rank_of("baz"), 3u);
    EXPECT_EQ(rl.rank_of("nope").error().errnum, ENOENT);
    json j = json::parse(rl.to_json());
    EXPECT_EQ(j["execution"]["nodelist"], json::parse(R"(["foo[0-1],bar,baz"])"));
    EXPECT_EQ(must_parse(rl.to_json()), rl);
}

TEST(RlistCodec, NodelistCompressesToOneString)
{
    Rlist rl = must_parse(make_R({{"0-5", "0-1"}}, R"({"nodelist": ["n1", "n2", "n3", "n[4-5]", "n6"]})"));
    json j = json::parse(rl.to_json());
    EXPECT_EQ(j["execution"]["nodelist"], json::parse(R"(["n[1-6]"])"));
}

TEST(RlistCodec, NodelistKeepsAwkwardNames)
{
    // Padded numbers, suffixes, gaps, repeats and bare numbers must come
    // back exactly as a per-host Hostlist would hold them.
    const std::vector<std::string> names = {"n01", "n02", "n1",  "n2",        "n3",         "x",          "n5",
                                            "n4",  "n4",  "a9b", "a10b",      "123",        "124",        "n0",
                                            "n6",  "n7",  "n0",  "n99999999", "n100000000", "n4294967295"};
    Rlist rl;
    Hostlist want;
    for (std::size_t i = 0; i < names.size(); i++) {
        ASSERT_TRUE(rl.add_node(static_cast<std::uint32_t>(i), names[i], ids("0")));
        ASSERT_TRUE(want.append(names[i]));
    }
    EXPECT_EQ(rl.nodelist(), want);
    EXPECT_EQ(rl.nodelist().encode(), want.encode());
    EXPECT_EQ(must_parse(rl.to_json()), rl);
}

TEST(RlistCodec, DuplicateRankWithDisjointIdsMerges)
{
    Rlist rl = must_parse(make_R({{"0-1", "0-1"}, {"1", "2-3", "0"}}));
    EXPECT_EQ(*rl.cores_of(1), ids("0-3"));
    EXPECT_EQ(*rl.gpus_of(1), ids("0"));
    EXPECT_EQ(*rl.cores_of(0), ids("0-1"));
}

TEST(RlistCodec, Properties)
{
    Rlist rl = must_parse(
        make_R({{"0-3", "0-7"}}, R"({"nodelist":["n[0-3]"],"properties":{"batch":"0-2","amd-mi50@gpu":"3","x":""}})"));
    EXPECT_EQ(*rl.properties_of(0), (std::vector<std::string>{"batch"}));
    EXPECT_EQ(*rl.properties_of(3), (std::vector<std::string>{"amd-mi50@gpu"}));
    EXPECT_EQ(rl.properties_of(9).error().errnum, ENOENT);
    EXPECT_EQ(rl.properties().size(), 2u);  // "x" names no ranks
    json j = json::parse(rl.to_json());
    EXPECT_EQ(j["execution"]["properties"], json::parse(R"({"batch":"0-2","amd-mi50@gpu":"3"})"));
    EXPECT_EQ(must_parse(rl.to_json()), rl);
}

TEST(RlistCodec, SchedulingPassesThrough)
{
    std::string text = R"({"version":1,"execution":{"R_lite":[{"rank":"0","children":{"core":"0"}}]},
                          "scheduling":{"graph":{"nodes":[{"id":"0"}],"edges":[]}}})";
    Rlist rl = must_parse(text);
    ASSERT_TRUE(rl.scheduling());
    EXPECT_EQ(json::parse(*rl.scheduling()), json::parse(R"({"graph":{"nodes":[{"id":"0"}],"edges":[]}})"));
    json j = json::parse(rl.to_json());
    EXPECT_EQ(j["scheduling"]["graph"]["nodes"][0]["id"], "0");
    EXPECT_EQ(must_parse(rl.to_json()), rl);

    EXPECT_TRUE(rl.set_scheduling(std::nullopt));
    EXPECT_FALSE(json::parse(rl.to_json()).contains("scheduling"));
    EXPECT_FALSE(rl.set_scheduling("{oops"));
    EXPECT_TRUE(rl.set_scheduling(R"( {"a": 1} )"));
    EXPECT_EQ(*rl.scheduling(), R"({"a":1})");
}

TEST(RlistCodec, TimesUnsetWhenNotPositive)
{
    Rlist rl = must_parse(make_R({{"0", "0"}}, R"({"starttime": -1, "expiration": 0})"));
    EXPECT_EQ(rl.starttime(), 0.0);
    EXPECT_EQ(rl.expiration(), 0.0);
    rl = must_parse(make_R({{"0", "0"}}, R"({"starttime": 10.5, "expiration": 20.25})"));
    EXPECT_EQ(rl.starttime(), 10.5);
    EXPECT_EQ(rl.expiration(), 20.25);
}

TEST(RlistCodec, MalformedInputsAreRefusedWithReasons)
{
    struct Case {
        std::string text;
        std::string expect;  // substring of the error text
    };
    const std::vector<Case> cases = {
        {"", "R: invalid JSON"},
        {"{\"version\":1,", "R: invalid JSON"},
        {"[]", "not a JSON object"},
        {R"({"execution":{"R_lite":[]}})", "missing version"},
        {R"({"version":2,"execution":{"R_lite":[]}})", "invalid version=2"},
        {R"({"version":"1","execution":{"R_lite":[]}})", "version must be an integer"},
        {R"({"version":1.0,"execution":{"R_lite":[]}})", "version must be an integer"},
        {R"({"version":1})", "missing execution"},
        {R"({"version":1,"execution":[]})", "execution must be an object"},
        {R"({"version":1,"execution":{}})", "missing execution.R_lite"},
        {R"({"version":1,"execution":{"R_lite":{}}})", "R_lite must be an array"},
        {R"({"version":1,"execution":{"R_lite":[1]}})", "R_lite[0] must be an object"},
        {R"({"version":1,"execution":{"R_lite":[{"children":{"core":"0"}}]}})", "R_lite[0]: missing rank"},
        {R"({"version":1,"execution":{"R_lite":[{"rank":0,"children":{"core":"0"}}]}})",
         "R_lite[0]: rank must be an idset string"},
        {make_R({{"0", "0"}, {"1-x", "0"}}), "R_lite[1]: rank: "},
        {make_R({{"3-1", "0"}}), "R_lite[0]: rank: "},
        {R"({"version":1,"execution":{"R_lite":[{"rank":"0"}]}})", "R_lite[0]: missing children"},
        {R"({"version":1,"execution":{"R_lite":[{"rank":"0","children":"0"}]}})",
         "R_lite[0]: children must be an object"},
        {make_R({{"0", "0-"}}), "R_lite[0].children.core: "},
        {R"({"version":1,"execution":{"R_lite":[{"rank":"0","children":{"core":5}}]}})",
         "R_lite[0].children.core must be an idset string"},
        {make_R({{"0", "0", "a"}}), "R_lite[0].children.gpu: "},
        {make_R({{"0-1", "0-3"}, {"1", "2-5"}}), "R_lite[1]: duplicate rank 1: core 2-3 already listed in R_lite[0]"},
        {make_R({{"0", "0", "0"}, {"0", "1", "0"}}), "duplicate rank 0: gpu 0"},
        {make_R({{"0-1", "0"}}, R"({"nodelist":["a"]})"), "nodelist names 1 host but R_lite has 2 ranks"},
        {make_R({{"0", "0"}}, R"({"nodelist":["a","b[0-1]"]})"), "nodelist names 3 hosts but R_lite has 1 rank"},
        {make_R({{"0", "0"}}, R"({"nodelist":"a"})"), "nodelist must be an array"},
        {make_R({{"0", "0"}}, R"({"nodelist":[7]})"), "nodelist[0] must be a string"},
        {make_R({{"0", "0"}}, R"({"nodelist":["a[1-"]})"), "execution.nodelist[0]: "},
        {make_R({{"0", "0"}}, R"({"properties":["a"]})"), "properties must be an object"},
        {make_R({{"0", "0"}}, R"({"properties":{"a":0}})"), "value of \"a\" must be an idset string"},
        {make_R({{"0", "0"}}, R"({"properties":{"a":"x"}})"), "property \"a\": "},
        {make_R({{"0", "0"}}, R"({"properties":{"a|b":"0"}})"), "invalid character '|' in property \"a|b\""},
        {make_R({{"0", "0"}}, R"({"properties":{"a":"0-2"}})"), "property \"a\": ranks 1-2 not in R_lite"},
        {make_R({{"0", "0"}}, R"({"starttime":"now"})"), "execution.starttime must be a number"},
        {make_R({{"0", "0"}}, R"({"starttime":100,"expiration":50})"), "expiration (50) must be greater"},
        {make_R({{"0-4294967294", "0"}}), "too many execution targets"},
    };
    for (const Case& c : cases) {
        std::string text = error_of(c.text);
        EXPECT_NE(text.find(c.expect), std::string::npos)
            << "input: " << c.text << "\nerror: " << text << "\nexpected: " << c.expect;
    }
}

TEST(RlistBuild, AddNodeAndProperty)
{
    Rlist rl;
    ASSERT_TRUE(rl.add_node(2, "n2", ids("0-3")));
    ASSERT_TRUE(rl.add_node(0, "n0", ids("0-3"), ids("0")));
    ASSERT_TRUE(rl.add_node(2, "", ids("4-5")));  // merges
    ASSERT_TRUE(rl.add_node(2, "n2", {}, ids("1")));
    EXPECT_EQ(*rl.cores_of(2), ids("0-5"));
    EXPECT_EQ(*rl.gpus_of(2), ids("1"));
    EXPECT_EQ(rl.ranks(), ids("0,2"));
    auto bad = rl.add_node(2, "other", ids("0"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().text.find("conflicts"), std::string::npos);
    EXPECT_FALSE(rl.add_node(3, "bad[host", ids("0")));
    EXPECT_FALSE(rl.add_node(UINT32_MAX, "x", ids("0")));

    EXPECT_TRUE(rl.add_property("fast", ids("0")));
    EXPECT_TRUE(rl.add_property("fast", ids("2")));
    EXPECT_EQ(rl.properties().at("fast"), ids("0,2"));
    auto unknown = rl.add_property("slow", ids("1"));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().text, "property \"slow\": rank 1 not in the resource set");
    EXPECT_FALSE(rl.add_property("a(b", ids("0")));
    EXPECT_FALSE(rl.add_property("", ids("0")));
    EXPECT_EQ(rl.properties().size(), 1u);
}

TEST(RlistSetOps, UnionMergesRanks)
{
    Rlist a = must_parse(make_R({{"0-1", "0-1"}}, R"({"nodelist":["n[0-1]"],"properties":{"p":"0"}})"));
    Rlist b = must_parse(make_R({{"1-2", "2-3", "0"}}, R"({"nodelist":["n[1-2]"],"properties":{"q":"2"}})"));
    auto u = a.union_with(b);
    ASSERT_TRUE(u) << u.error().text;
    EXPECT_EQ(u->ranks(), ids("0-2"));
    EXPECT_EQ(*u->cores_of(0), ids("0-1"));
    EXPECT_EQ(*u->cores_of(1), ids("0-3"));
    EXPECT_EQ(*u->gpus_of(1), ids("0"));
    EXPECT_EQ(*u->cores_of(2), ids("2-3"));
    EXPECT_EQ(u->nodelist().encode(), "n[0-2]");
    EXPECT_EQ(u->properties().at("p"), ids("0"));
    EXPECT_EQ(u->properties().at("q"), ids("2"));
    EXPECT_EQ(u->counts(), (Rlist::Counts{3, 8, 2}));

    // Union with self, and with an empty set, changes nothing.
    EXPECT_EQ(*a.union_with(a), a);
    EXPECT_EQ(*a.union_with(Rlist{}), a);
}

TEST(RlistSetOps, UnionRefusesHostnameConflict)
{
    Rlist a = must_parse(make_R({{"0", "0"}}, R"({"nodelist":["foo"]})"));
    Rlist b = must_parse(make_R({{"0", "1"}}, R"({"nodelist":["bar"]})"));
    Rlist anon = must_parse(make_R({{"0", "1"}}));
    auto u = a.union_with(b);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().errnum, EINVAL);
    EXPECT_EQ(u.error().text, "rank 0: hostname 'foo' differs from 'bar'");
    EXPECT_FALSE(a.intersection(b));
    EXPECT_FALSE(a.difference(b));
    // A missing hostname agrees with any.
    auto v = anon.union_with(a);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v->hostname_of(0), "foo");
}

TEST(RlistSetOps, DifferenceDropsEmptiedRanks)
{
    Rlist a = must_parse(
        make_R({{"0-3", "0-3", "0-1"}}, R"({"nodelist":["n[0-3]"],"properties":{"p":"0-3"},"starttime":5})"));
    Rlist b = must_parse(make_R({{"0", "0-3", "0-1"}, {"1", "0-1"}, {"2", "0-3"}, {"7", "0"}}));
    auto d = a.difference(b);
    ASSERT_TRUE(d) << d.error().text;
    EXPECT_EQ(d->ranks(), ids("1-3"));  // rank 0 emptied
    EXPECT_EQ(*d->cores_of(1), ids("2-3"));
    EXPECT_EQ(*d->gpus_of(1), ids("0-1"));
    EXPECT_EQ(*d->cores_of(2), IdSet{});  // gpus left
    EXPECT_EQ(*d->gpus_of(2), ids("0-1"));
    EXPECT_EQ(*d->cores_of(3), ids("0-3"));
    EXPECT_EQ(d->properties().at("p"), ids("1-3"));
    EXPECT_EQ(d->starttime(), 5.0);
    EXPECT_EQ(d->nodelist().encode(), "n[1-3]");

    EXPECT_TRUE(a.difference(a)->empty());
    EXPECT_EQ(*a.difference(Rlist{}), a);
}

TEST(RlistSetOps, Intersection)
{
    Rlist a = must_parse(make_R({{"0-3", "0-3", "0"}}, R"({"properties":{"p":"1"}})"));
    Rlist b =
        must_parse(make_R({{"1", "2-5"}, {"2", "4-5"}, {"3", "0", "0"}, {"9", "0"}}, R"({"properties":{"q":"3"}})"));
    auto x = a.intersection(b);
    ASSERT_TRUE(x) << x.error().text;
    EXPECT_EQ(x->ranks(), ids("1,3"));  // rank 2 shares nothing, 0 and 9 only on one side
    EXPECT_EQ(*x->cores_of(1), ids("2-3"));
    EXPECT_EQ(*x->gpus_of(1), IdSet{});
    EXPECT_EQ(*x->cores_of(3), ids("0"));
    EXPECT_EQ(*x->gpus_of(3), ids("0"));
    EXPECT_EQ(x->properties().at("p"), ids("1"));
    EXPECT_EQ(x->properties().at("q"), ids("3"));
    EXPECT_EQ(*a.intersection(a), a);
    EXPECT_TRUE(a.intersection(Rlist{})->empty());
}

TEST(RlistSetOps, AlgebraIdentities)
{
    Rlist a = must_parse(make_R({{"0-9", "0-7", "0-1"}, {"10-12", "0-3"}}));
    Rlist b = must_parse(make_R({{"5-11", "4-11", "1-2"}}));
    Rlist u = *a.union_with(b);
    Rlist x = *a.intersection(b);
    // (a - b) + (a & b) == a, and a + b == (a - b) + b
    EXPECT_EQ(*a.difference(b)->union_with(x), a);
    EXPECT_EQ(*a.difference(b)->union_with(b), u);
    EXPECT_EQ(u.ncores() + x.ncores(), a.ncores() + b.ncores());
    EXPECT_EQ(u.ngpus() + x.ngpus(), a.ngpus() + b.ngpus());
}

TEST(RlistSetOps, SchedulingFollowsFluxCore)
{
    Rlist a = must_parse(R"({"version":1,"execution":{"R_lite":[{"rank":"0","children":{"core":"0"}}]},
                           "scheduling":{"a":1}})");
    Rlist b = must_parse(R"({"version":1,"execution":{"R_lite":[{"rank":"1","children":{"core":"0"}}]},
                           "scheduling":{"b":2}})");
    Rlist none = must_parse(make_R({{"1", "0"}}));
    EXPECT_EQ(*a.union_with(b)->scheduling(), R"({"a":1})");
    EXPECT_EQ(*none.union_with(b)->scheduling(), R"({"b":2})");
    EXPECT_FALSE(a.difference(a)->scheduling());  // empty result
    EXPECT_EQ(*a.copy_ranks(ids("0")).scheduling(), R"({"a":1})");
}

TEST(RlistSubset, CopyAndRemoveRanks)
{
    Rlist rl = must_parse(make_R({{"0-7", "0-1"}}, R"({"nodelist":["n[0-7]"],"properties":{"p":"0-1,6"}})"));
    Rlist c = rl.copy_ranks(ids("1-2,6,100"));
    EXPECT_EQ(c.ranks(), ids("1-2,6"));
    EXPECT_EQ(c.nodelist().encode(), "n[1-2,6]");
    EXPECT_EQ(c.properties().at("p"), ids("1,6"));

    EXPECT_EQ(rl.remove_ranks(ids("0-1,50")), 2u);
    EXPECT_EQ(rl.ranks(), ids("2-7"));
    EXPECT_EQ(rl.properties().at("p"), ids("6"));
    EXPECT_EQ(rl.remove_ranks(ids("6")), 1u);
    EXPECT_TRUE(rl.properties().empty());
    EXPECT_EQ(rl.remove_ranks(ids("6")), 0u);
}

TEST(RlistRerank, Ascending)
{
    Rlist rl = must_parse(make_R({{"3,5", "0-1"}, {"9", "0-3"}, {"10-11", "0"}},
                                 R"({"nodelist":["a","b","c","d","e"],"properties":{"p":"5,9-10","q":"11"}})"));
    rl.rerank();
    EXPECT_EQ(rl.ranks(), ids("0-4"));
    EXPECT_EQ(*rl.hostname_of(0), "a");
    EXPECT_EQ(*rl.hostname_of(2), "c");
    EXPECT_EQ(*rl.cores_of(2), ids("0-3"));
    EXPECT_EQ(rl.properties().at("p"), ids("1-3"));
    EXPECT_EQ(rl.properties().at("q"), ids("4"));
    EXPECT_EQ(must_parse(rl.to_json()), rl);
}

TEST(RlistRerank, ByHostlist)
{
    Rlist rl =
        must_parse(make_R({{"0-2", "0-1"}, {"3", "0-7"}}, R"({"nodelist":["n[0-3]"],"properties":{"big":"3"}})"));
    const Rlist orig = rl;
    ASSERT_TRUE(rl.rerank(*Hostlist::parse("n3,n0,n1,n2")));
    EXPECT_EQ(*rl.rank_of("n3"), 0u);
    EXPECT_EQ(*rl.cores_of(0), ids("0-7"));
    EXPECT_EQ(*rl.rank_of("n2"), 3u);
    EXPECT_EQ(rl.properties().at("big"), ids("0"));
    EXPECT_EQ(rl.nodelist().encode(), "n[3,0-2]");

    rl = orig;
    auto too_many = rl.rerank(*Hostlist::parse("n[0-4]"));
    ASSERT_FALSE(too_many);
    EXPECT_EQ(too_many.error().errnum, EOVERFLOW);
    auto too_few = rl.rerank(*Hostlist::parse("n[0-2]"));
    ASSERT_FALSE(too_few);
    EXPECT_EQ(too_few.error().errnum, ENOSPC);
    auto missing = rl.rerank(*Hostlist::parse("n[0-2],x"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errnum, ENOENT);
    EXPECT_EQ(missing.error().text, "host x not found in resources");
    auto twice = rl.rerank(*Hostlist::parse("n[0-2],n1"));
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().errnum, EEXIST);
    EXPECT_EQ(rl, orig);  // unchanged by failures
}

TEST(RlistRerank, RenumberCores)
{
    Rlist rl = must_parse(make_R({{"0", "4-7", "2-3"}, {"1", "0-3"}, {"2", "1,3,5"}}));
    rl.renumber_cores();
    EXPECT_EQ(*rl.cores_of(0), ids("0-3"));
    EXPECT_EQ(*rl.gpus_of(0), ids("2-3"));  // gpus keep their ids
    EXPECT_EQ(*rl.cores_of(1), ids("0-3"));
    EXPECT_EQ(*rl.cores_of(2), ids("0-2"));
}

TEST(RlistConfig, DocumentationExample)
{
    // flux-config-resource(5) example.
    json conf = json::parse(R"([
        {"hosts": "test[1-100]", "cores": "0-7"},
        {"hosts": "test[1,2]", "gpus": "0-1"},
        {"hosts": "test[1-89]", "properties": ["batch"]},
        {"hosts": "test[90-100]", "properties": ["debug"]}])");
    auto rl = Rlist::from_config(conf);
    ASSERT_TRUE(rl) << rl.error().text;
    EXPECT_EQ(rl->counts(), (Rlist::Counts{100, 800, 4}));
    EXPECT_EQ(rl->ranks(), ids("0-99"));
    EXPECT_EQ(*rl->hostname_of(0), "test1");
    EXPECT_EQ(*rl->hostname_of(99), "test100");
    EXPECT_EQ(*rl->gpus_of(1), ids("0-1"));
    EXPECT_EQ(*rl->gpus_of(2), IdSet{});
    EXPECT_EQ(rl->properties().at("batch"), ids("0-88"));
    EXPECT_EQ(rl->properties().at("debug"), ids("89-99"));
    json j = json::parse(rl->to_json());
    EXPECT_EQ(j["execution"]["R_lite"], json::parse(R"([
        {"rank":"0-1","children":{"core":"0-7","gpu":"0-1"}},
        {"rank":"2-99","children":{"core":"0-7"}}])"));
    EXPECT_EQ(j["execution"]["nodelist"], json::parse(R"(["test[1-100]"])"));
    EXPECT_EQ(must_parse(rl->to_json()), *rl);
}

TEST(RlistConfig, RanksFollowFirstAppearanceAndMerge)
{
    json conf = json::parse(R"([
        {"hosts": "b,c", "cores": "0-1"},
        {"hosts": "a,b", "cores": "2-3", "properties": ["x", "y"]},
        {"hosts": "c", "cores": "0-3"}])");
    auto rl = Rlist::from_config(conf);
    ASSERT_TRUE(rl) << rl.error().text;
    EXPECT_EQ(*rl->rank_of("b"), 0u);
    EXPECT_EQ(*rl->rank_of("c"), 1u);
    EXPECT_EQ(*rl->rank_of("a"), 2u);
    EXPECT_EQ(*rl->cores_of(0), ids("0-3"));  // b: 0-1 + 2-3
    EXPECT_EQ(*rl->cores_of(1), ids("0-3"));  // c: 0-1 + 0-3 (overlap allowed)
    EXPECT_EQ(*rl->cores_of(2), ids("2-3"));
    EXPECT_EQ(rl->properties().at("x"), ids("0,2"));
    EXPECT_EQ(*rl->properties_of(0), (std::vector<std::string>{"x", "y"}));
    // Matching broker ranks to a bootstrap host list.
    ASSERT_TRUE(rl->rerank(*Hostlist::parse("a,b,c")));
    EXPECT_EQ(*rl->hostname_of(0), "a");
    EXPECT_EQ(rl->properties().at("x"), ids("0-1"));
}

TEST(RlistConfig, BadEntriesNameTheEntry)
{
    struct Case {
        std::string conf;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {R"({"hosts":"a"})", "resource config must be an array"},
        {R"([])", "no hosts configured"},
        {R"([7])", "config[0]: entry must be a table"},
        {R"([{"cores":"0"}])", "config[0]: missing required key 'hosts'"},
        {R"([{"hosts":"a","cores":"0"},{"hosts":"b[1-","cores":"0"}])", "config[1]: invalid hostlist 'b[1-': "},
        {R"([{"hosts":"","cores":"0"}])", "config[0]: empty hostlist specified"},
        {R"([{"hosts":5}])", "config[0]: hosts must be a string"},
        {R"([{"hosts":"a","cores":"0-x"}])", "config[0]: invalid idset cores='0-x': "},
        {R"([{"hosts":"a","cores":"0"},{"hosts":"a","gpus":"9-1"}])", "config[1]: invalid idset gpus='9-1': "},
        {R"([{"hosts":"a","cores":0}])", "config[0]: cores must be a string"},
        {R"([{"hosts":"a","cores":"0","memory":"4G"}])", "config[0]: unknown key 'memory'"},
        {R"([{"hosts":"a","cores":"0","properties":"x"}])", "config[0]: properties must be an array"},
        {R"([{"hosts":"a","cores":"0","properties":["ok","b&d"]}])", "config[0]: invalid property \"b&d\""},
        {R"([{"hosts":"a","cores":"0","properties":[1]}])", "config[0]: invalid property 1"},
        {R"([{"hosts":"a[1-3]","cores":"0"},{"hosts":"b[1-2],a4","properties":["x"]}])",
         "resource.config: b[1-2],a4 assigned no resources"},
        {R"([{"hosts":"n[0-4294967295]","cores":"0"}])", "config[0]: too many hosts"},
    };
    for (const Case& c : cases) {
        auto rl = Rlist::from_config(json::parse(c.conf));
        ASSERT_FALSE(rl) << c.conf;
        EXPECT_EQ(rl.error().errnum, EINVAL) << c.conf;
        EXPECT_NE(rl.error().text.find(c.expect), std::string::npos)
            << "config: " << c.conf << "\nerror: " << rl.error().text << "\nexpected: " << c.expect;
    }
}

TEST(RlistCounts, SumsAcrossRanks)
{
    Rlist rl = must_parse(make_R({{"0-1", "0-63", "0-3"}, {"2", "0-31"}}));
    EXPECT_EQ(rl.counts(), (Rlist::Counts{3, 160, 8}));
    EXPECT_EQ(rl.nnodes(), 3u);
    EXPECT_EQ(rl.ncores(), 160u);
    EXPECT_EQ(rl.ngpus(), 8u);
    EXPECT_EQ(rl.cores_of(7).error().errnum, ENOENT);
    EXPECT_EQ(rl.hostname_of(7).error().errnum, ENOENT);
}

// 16,384 nodes x 64 cores: parse + emit + union + difference + intersection.
// The bound only catches gross regressions (it must hold under sanitizers);
// bench/rlist.cpp gives the real figures.
TEST(RlistPerf, LargeUniformSet)
{
    auto make = [](const char* cores) {
        return std::string(R"({"version":1,"execution":{"R_lite":[{"rank":"0-16383","children":{"core":")") + cores +
               R"("}}],"nodelist":["node[0-16383]"],"starttime":0,"expiration":0}})";
    };
    const std::string text_a = make("0-63");
    const Rlist b = must_parse(make("0-31"));
    auto t0 = std::chrono::steady_clock::now();
    Rlist a = must_parse(text_a);
    std::string out = a.to_json();
    auto u = a.union_with(b);
    auto d = a.difference(b);
    auto x = a.intersection(b);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("16384x64: parse+emit+union+difference+intersection %.2f ms\n", ms);
    ASSERT_TRUE(u && d && x);
    EXPECT_EQ(a.counts(), (Rlist::Counts{16384, 16384u * 64, 0}));
    EXPECT_EQ(*u, a);
    EXPECT_EQ(d->ncores(), 16384u * 32);
    EXPECT_EQ(*d->cores_of(16383), ids("32-63"));
    EXPECT_EQ(*x, b);
    json j = json::parse(out);
    EXPECT_EQ(j["execution"]["R_lite"].size(), 1u);
    EXPECT_EQ(j["execution"]["R_lite"][0]["rank"], "0-16383");
    EXPECT_EQ(j["execution"]["nodelist"][0], "node[0-16383]");
    EXPECT_LT(ms, 500.0);
}
