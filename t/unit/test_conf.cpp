// Unit tests for flux::conf: TOML/JSON loading, directory merging, KEY=VAL overrides, getters.
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "libconf/conf.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A scratch directory, removed when the test ends.
class ConfTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string tmpl = (fs::temp_directory_path() / "test_conf.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override
    {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string write(const std::string& rel, const std::string& text)
    {
        fs::path p = dir_ / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    fs::path dir_;
};

}  // namespace

TEST(LoadString, ConvertsScalarTypes)
{
    auto conf = flux::conf::load_string(R"(
top = "level"
[tbon]
fanout = 4
zmqdebug = false
torpid_max = "30s"
ratio = 0.5
big = 9223372036854775807
[exec]
imp = "/usr/libexec/flux/flux-imp"
[access]
allow-guest-user = true
when = 1979-05-27T07:32:00Z
day = 1979-05-27
clock = 07:32:00
local = 1979-05-27T07:32:00
)",
                                        "inline");
    ASSERT_TRUE(conf) << conf.error().text;
    EXPECT_EQ((*conf)["top"], "level");
    EXPECT_EQ((*conf)["tbon"]["fanout"], 4);
    EXPECT_TRUE((*conf)["tbon"]["fanout"].is_number_integer());
    EXPECT_EQ((*conf)["tbon"]["zmqdebug"], false);
    EXPECT_EQ((*conf)["tbon"]["torpid_max"], "30s");
    EXPECT_DOUBLE_EQ((*conf)["tbon"]["ratio"].get<double>(), 0.5);
    EXPECT_EQ((*conf)["tbon"]["big"].get<std::int64_t>(), INT64_MAX);
    EXPECT_EQ((*conf)["access"]["allow-guest-user"], true);
    EXPECT_EQ((*conf)["access"]["when"], "1979-05-27T07:32:00Z");
    EXPECT_EQ((*conf)["access"]["day"], "1979-05-27");
    EXPECT_EQ((*conf)["access"]["clock"], "07:32:00");
    EXPECT_EQ((*conf)["access"]["local"], "1979-05-27T07:32:00");
}

TEST(LoadString, ArraysOfTables)
{
    auto conf = flux::conf::load_string(R"(
[resource]
noverify = true

[[resource.config]]
hosts = "node[0-3]"
cores = "0-7"

[[resource.config]]
hosts = "node1"
gpus = "0"
properties = ["big", "gpu"]
)",
                                        "resource.toml");
    ASSERT_TRUE(conf) << conf.error().text;
    const json& cfg = (*conf)["resource"]["config"];
    ASSERT_TRUE(cfg.is_array());
    ASSERT_EQ(cfg.size(), 2u);
    EXPECT_EQ(cfg[0], json({{"hosts", "node[0-3]"}, {"cores", "0-7"}}));
    EXPECT_EQ(cfg[1]["hosts"], "node1");
    EXPECT_EQ(cfg[1]["gpus"], "0");
    EXPECT_EQ(cfg[1]["properties"], json({"big", "gpu"}));
    EXPECT_EQ((*conf)["resource"]["noverify"], true);
}

TEST(LoadString, ParseErrorNamesLineAndColumn)
{
    auto conf = flux::conf::load_string("a = 1\n\n[tbon]\nfanout 4\n", "x.toml");
    ASSERT_FALSE(conf);
    EXPECT_EQ(conf.error().errnum, EINVAL);
    EXPECT_TRUE(conf.error().text.starts_with("x.toml:4:")) << conf.error().text;
}

TEST(LoadString, RejectsNonFiniteFloat)
{
    auto conf = flux::conf::load_string("[t]\nx = inf\n", "f.toml");
    ASSERT_FALSE(conf);
    EXPECT_EQ(conf.error().errnum, EINVAL);
    EXPECT_TRUE(conf.error().text.starts_with("f.toml:2:")) << conf.error().text;
}

TEST(LoadString, GarbageIsAnErrorNotACrash)
{
    const std::string junk("\xff\xfe\x00[[[\x01=\"", 9);
    auto conf = flux::conf::load_string(junk, "junk");
    ASSERT_FALSE(conf);
    EXPECT_EQ(conf.error().errnum, EINVAL);
    std::string deep(100000, '[');
    EXPECT_FALSE(flux::conf::load_string("a = " + deep, "deep"));
}

TEST_F(ConfTest, LoadsSingleFile)
{
    auto path = write("system.toml", "[tbon]\nfanout = 8\n[bootstrap]\ncurve_cert = \"/etc/c\"\n");
    auto conf = flux::conf::load_path(path);
    ASSERT_TRUE(conf) << conf.error().text;
    EXPECT_EQ(*conf, json::parse(R"({"tbon":{"fanout":8},"bootstrap":{"curve_cert":"/etc/c"}})"));
}

TEST_F(ConfTest, LoadsJsonFile)
{
    auto path = write("conf.json", R"({"resource": {"exclude": "0"}})");
    auto conf = flux::conf::load_path(path);
    ASSERT_TRUE(conf) << conf.error().text;
    EXPECT_EQ((*conf)["resource"]["exclude"], "0");

    auto bad = flux::conf::load_path(write("bad.json", "{\n  \"a\": ,\n}"));
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().text.starts_with((dir_ / "bad.json").string() + ":2:"))
        << bad.error().text;
    auto notobj = flux::conf::load_path(write("arr.json", "[1]"));
    ASSERT_FALSE(notobj);
    EXPECT_EQ(notobj.error().errnum, EINVAL);
}

TEST_F(ConfTest, MergesDirectoryInSortedOrder)
{
    write("conf.d/20-tbon.toml", "[tbon]\nfanout = 16\n");
    write("conf.d/10-tbon.toml", "[tbon]\nfanout = 2\nzmqdebug = 1\n");
    write("conf.d/resource.toml", "[[resource.config]]\nhosts = \"n[0-1]\"\ncores = \"0-3\"\n");
    write("conf.d/README", "this is not toml = = =\n");
    write("conf.d/old.toml.bak", "not toml either [[\n");
    write("conf.d/.hidden.toml", "broken [[[\n");
    fs::create_directories(dir_ / "conf.d" / "sub.toml");
    auto conf = flux::conf::load_path((dir_ / "conf.d").string());
    ASSERT_TRUE(conf) << conf.error().text;
    // Tables in several files merge key by key; the later file wins.
    EXPECT_EQ((*conf)["tbon"], json({{"fanout", 16}, {"zmqdebug", 1}}));
    EXPECT_EQ((*conf)["resource"]["config"][0]["hosts"], "n[0-1]");
    EXPECT_EQ(conf->size(), 2u);
}

TEST_F(ConfTest, EmptyDirectoryIsEmptyConfig)
{
    fs::create_directories(dir_ / "empty");
    auto conf = flux::conf::load_path((dir_ / "empty").string());
    ASSERT_TRUE(conf) << conf.error().text;
    EXPECT_EQ(*conf, json::object());
}

TEST_F(ConfTest, ParseErrorInDirectoryNamesFileAndLine)
{
    write("conf.d/a.toml", "[tbon]\nfanout = 2\n");
    write("conf.d/resource.toml", "[resource]\nnoverify = true\nexclude \"0\"\n");
    auto conf = flux::conf::load_path((dir_ / "conf.d").string());
    ASSERT_FALSE(conf);
    EXPECT_EQ(conf.error().errnum, EINVAL);
    const std::string prefix = (dir_ / "conf.d" / "resource.toml").string() + ":3:";
    EXPECT_TRUE(conf.error().text.starts_with(prefix)) << conf.error().text;
    // line:column: description
    EXPECT_NE(conf.error().text.find(": ", prefix.size()), std::string::npos);
}

TEST_F(ConfTest, MissingPathIsEnoent)
{
    const std::string missing = (dir_ / "nope.d").string();
    auto conf = flux::conf::load_path(missing);
    ASSERT_FALSE(conf);
    EXPECT_EQ(conf.error().errnum, ENOENT);
    EXPECT_NE(conf.error().text.find(missing), std::string::npos);
    auto file = flux::conf::load_path((dir_ / "nope.toml").string());
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().errnum, ENOENT);
}

TEST(Override, ParsesValues)
{
    json conf = json::object();
    using flux::conf::apply_override;
    ASSERT_TRUE(apply_override(conf, "tbon.fanout=4"));
    ASSERT_TRUE(apply_override(conf, "tbon.ratio=0.25"));
    ASSERT_TRUE(apply_override(conf, "resource.noverify=true"));
    ASSERT_TRUE(apply_override(conf, "resource.path=/etc/flux/R"));
    ASSERT_TRUE(apply_override(conf, "resource.exclude=\"0\""));
    ASSERT_TRUE(apply_override(conf, "resource.literal='x y'"));
    ASSERT_TRUE(apply_override(conf, "a.b.c.d=0x10"));
    ASSERT_TRUE(apply_override(conf, "a.arr=[1, \"two\", false]"));
    ASSERT_TRUE(apply_override(conf, "a.tab={ x = 1, y = \"z\" }"));
    ASSERT_TRUE(apply_override(conf, "a.obj={\"k\": [1]}"));
    ASSERT_TRUE(apply_override(conf, "a.eq=x=y"));
    ASSERT_TRUE(apply_override(conf, "a.empty="));
    ASSERT_TRUE(apply_override(conf, "a.inf=inf"));
    ASSERT_TRUE(apply_override(conf, "a.two=1\nb = 2"));
    EXPECT_EQ(conf["tbon"]["fanout"], 4);
    EXPECT_TRUE(conf["tbon"]["fanout"].is_number_integer());
    EXPECT_DOUBLE_EQ(conf["tbon"]["ratio"].get<double>(), 0.25);
    EXPECT_EQ(conf["resource"]["noverify"], true);
    EXPECT_EQ(conf["resource"]["path"], "/etc/flux/R");
    EXPECT_EQ(conf["resource"]["exclude"], "0");
    EXPECT_EQ(conf["resource"]["literal"], "x y");
    EXPECT_EQ(conf["a"]["b"]["c"]["d"], 16);
    EXPECT_EQ(conf["a"]["arr"], json::parse(R"([1, "two", false])"));
    EXPECT_EQ(conf["a"]["tab"], json::parse(R"({"x": 1, "y": "z"})"));
    EXPECT_EQ(conf["a"]["obj"], json::parse(R"({"k": [1]})"));
    EXPECT_EQ(conf["a"]["eq"], "x=y");
    EXPECT_EQ(conf["a"]["empty"], "");
    EXPECT_EQ(conf["a"]["inf"], "inf");
    EXPECT_EQ(conf["a"]["two"], "1\nb = 2");
}

TEST(Override, MergesIntoLoadedConfigAndReplacesLeaf)
{
    auto conf = flux::conf::load_string("[tbon]\nfanout = 2\ntopo = \"kary:2\"\n", "t");
    ASSERT_TRUE(conf);
    ASSERT_TRUE(flux::conf::apply_override(*conf, "tbon.fanout=32"));
    EXPECT_EQ((*conf)["tbon"], json({{"fanout", 32}, {"topo", "kary:2"}}));
    json null_conf;
    ASSERT_TRUE(flux::conf::apply_override(null_conf, "x=1"));
    EXPECT_EQ(null_conf, json({{"x", 1}}));
}

TEST(Override, Errors)
{
    json conf = json::parse(R"({"tbon": {"fanout": 2}})");
    const json before = conf;
    auto r = flux::conf::apply_override(conf, "tbon.fanout");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, EINVAL);
    EXPECT_NE(r.error().text.find("'tbon.fanout'"), std::string::npos) << r.error().text;

    r = flux::conf::apply_override(conf, "tbon.fanout.x=1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, EINVAL);
    EXPECT_NE(r.error().text.find("tbon.fanout is an integer"), std::string::npos)
        << r.error().text;

    for (const char* bad : {"=1", ".a=1", "a..b=1", "a.=1"}) {
        r = flux::conf::apply_override(conf, bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().text.find(bad), std::string::npos) << r.error().text;
    }
    EXPECT_EQ(conf, before);

    json scalar = 5;
    EXPECT_FALSE(flux::conf::apply_override(scalar, "a=1"));
}

TEST(Getters, ValuesDefaultsAndTypeErrors)
{
    auto conf = flux::conf::load_string(R"(
[tbon]
fanout = "four"
ratio = 2
[resource]
noverify = true
path = "/etc/R"
exclude = 3
)",
                                        "g");
    ASSERT_TRUE(conf) << conf.error().text;
    using namespace flux::conf;

    auto fanout = get_int(*conf, "tbon.fanout", 2);
    ASSERT_FALSE(fanout);
    EXPECT_EQ(fanout.error().errnum, EINVAL);
    EXPECT_EQ(fanout.error().text, "tbon.fanout: expected integer, got string");

    EXPECT_EQ(get_int(*conf, "tbon.missing", 7).value(), 7);
    EXPECT_EQ(get_int(*conf, "nosuch.table.key", -1).value(), -1);
    EXPECT_EQ(get_int(*conf, "resource.exclude", 0).value(), 3);
    EXPECT_DOUBLE_EQ(get_double(*conf, "tbon.ratio", 0).value(), 2.0);
    EXPECT_EQ(get_bool(*conf, "resource.noverify", false).value(), true);
    EXPECT_EQ(get_string(*conf, "resource.path", "").value(), "/etc/R");
    EXPECT_EQ(get_string(*conf, "resource.rediscover", "no").value(), "no");

    auto b = get_bool(*conf, "resource.path", false);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().text, "resource.path: expected boolean, got string");
    auto s = get_string(*conf, "resource.exclude", "");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().text, "resource.exclude: expected string, got integer");
    auto d = get_double(*conf, "resource", 0);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().text, "resource: expected float, got table");

    auto under = get_int(*conf, "resource.path.x", 0);
    ASSERT_FALSE(under);
    EXPECT_EQ(under.error().text, "resource.path.x: resource.path is a string, not a table");
    EXPECT_FALSE(get_int(*conf, "", 0));
    EXPECT_FALSE(get_int(*conf, "a..b", 0));
}

TEST(Getters, IntegerRange)
{
    json conf = json::parse(R"({"big": 18446744073709551615, "ok": 42})");
    auto big = flux::conf::get_int(conf, "big", 0);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().errnum, ERANGE);
    EXPECT_EQ(flux::conf::get_int(conf, "ok", 0).value(), 42);
    EXPECT_EQ(flux::conf::get_int(json(), "any.key", 9).value(), 9);
}

TEST(Merge, DeepMergeLaterWins)
{
    json a = json::parse(R"({"t": {"x": 1, "y": {"p": 1}}, "s": 1})");
    json b = json::parse(R"({"t": {"y": {"q": 2}, "x": [1]}, "u": true})");
    flux::conf::merge(a, b);
    EXPECT_EQ(a, json::parse(R"({"t": {"x": [1], "y": {"p": 1, "q": 2}}, "s": 1, "u": true})"));
}

TEST(CheckKnown, OurTablesAreCheckedKeyByKey)
{
    EXPECT_TRUE(flux::conf::check_known(json::object()));
    EXPECT_TRUE(flux::conf::check_known(
        json{{"resource", {{"exclude", "0"}, {"noverify", true}}}, {"tbon", {{"fanout", 4}}},
             {"access", {{"allow-guest-user", true}}}, {"sched-simple", {{"alloc-mode", "best-fit"}}},
             {"exec", {{"kill-timeout", 5}}}}));
    auto r = flux::conf::check_known(json{{"resource", {{"bogus", 1}}}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, EINVAL);
    EXPECT_EQ(r.error().text, "unknown configuration key 'resource.bogus'");
    r = flux::conf::check_known(json{{"tbon", 3}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().text, "configuration 'tbon' must be a table");
}

TEST(CheckKnown, FluxCoreTablesAreAcceptedUnknownOnesAreNot)
{
    EXPECT_TRUE(flux::conf::check_known(json{{"policy", {{"jobspec", {{"defaults", json::object()}}}}},
                                             {"queues", {{"debug", json::object()}}},
                                             {"bootstrap", {{"curve_cert", "/x"}}}}));
    auto r = flux::conf::check_known(json{{"nosuch", {{"key", 1}}}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().text, "unknown configuration table 'nosuch'");
}
