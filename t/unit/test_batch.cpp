// libjob pieces of flux batch: RFC 36 directives, shell word splitting and
// RFC 37 file archives.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <flux/archive.hpp>
#include <flux/directives.hpp>

using nlohmann::json;
using Words = std::vector<std::string>;
namespace fs = std::filesystem;

namespace {

Words directives(const std::string& script)
{
    auto r = flux::job::parse_directives(script);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : Words{};
}

std::string directive_error(const std::string& script)
{
    auto r = flux::job::parse_directives(script);
    EXPECT_FALSE(r);
    return r ? "" : r.error().message();
}

TEST(Directives, ShellScriptAfterShebang)
{
    EXPECT_EQ(directives("#!/bin/sh\n# flux: -N4 -n16\nflux run -n16 hostname\n"), (Words{"-N4", "-n16"}));
}

TEST(Directives, SeveralLinesInOrderWithComments)
{
    EXPECT_EQ(directives("#!/bin/sh\n# flux: -N4 # four nodes\n# flux: # -N8 disabled\n# a comment\n"
                         "# flux: --job-name='my job'\necho hi\n"),
              (Words{"-N4", "--job-name=my job"}));
}

TEST(Directives, UpperCaseTagAndOtherLanguagesPrefixes)
{
    EXPECT_EQ(directives("#!/usr/bin/env lua\n-- FLUX: -N2\n-- FLUX: -t 5m\nprint(1)\n"), (Words{"-N2", "-t", "5m"}));
    // Inside a Python docstring the prefix is empty.
    EXPECT_EQ(directives("#!/usr/bin/env python3\n\"\"\"\nflux: -N2\nflux: -n2\n\"\"\"\nprint(1)\n"),
              (Words{"-N2", "-n2"}));
}

TEST(Directives, QuotingAsAShellDoes)
{
    EXPECT_EQ(directives("#!/bin/sh\n# flux: --env=A=\"x y\" --env='B=$HOME' C\\ D \"q\\\"q\"\n"),
              (Words{"--env=A=x y", "--env=B=$HOME", "C D", "q\"q"}));
}

TEST(Directives, TripleQuotesSpanLines)
{
    auto w = directives(
        "#!/bin/sh\n# flux: --setattr=user.conf=\"\"\"\n# flux: [config]\n"
        "# flux:   item = \"foo\"\n# flux: \"\"\"\n# flux: -N1\n");
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0], "--setattr=user.conf=[config]\n  item = \"foo\"\n");
    EXPECT_EQ(w[1], "-N1");
}

TEST(Directives, NoneIsEmpty)
{
    EXPECT_TRUE(directives("#!/bin/sh\necho flux: not a directive\n").empty());
    EXPECT_TRUE(directives("").empty());
}

TEST(Directives, MixedSentinelsAreRefused)
{
    EXPECT_NE(directive_error("#!/bin/sh\n# flux: -N1\n## flux: -n2\n").find("line 3: directive sentinel"),
              std::string::npos);
}

TEST(Directives, DirectiveAfterCodeIsRefused)
{
    EXPECT_EQ(directive_error("#!/bin/sh\necho x\n# flux: -N1\n"),
              "line 3: directive after the script's code began (line 2)");
    EXPECT_EQ(directive_error("#!/bin/sh\n# flux: -N1\necho x\n# flux: -n1\n"),
              "line 4: directive after the script's code began (line 3)");
    // "#!" counts as code anywhere but on line 1.
    EXPECT_EQ(directive_error("\n#!/bin/sh\n# flux: -N1\n"),
              "line 3: directive after the script's code began (line 2)");
}

TEST(Directives, UnterminatedQuoteIsRefused)
{
    EXPECT_NE(directive_error("#!/bin/sh\n# flux: --job-name='oops\n").find("unterminated single quote"),
              std::string::npos);
    EXPECT_NE(directive_error("#!/bin/sh\n# flux: -S x=\"\"\"\n").find("unterminated triple quote"), std::string::npos);
}

TEST(ShellSplit, EmptyQuotesAreAWord)
{
    auto w = flux::job::shell_split("a '' \"\" b");
    ASSERT_TRUE(w);
    EXPECT_EQ(*w, (Words{"a", "", "", "b"}));
}

// --- RFC 37 archives ---

class Archive : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/test-archive-XXXXXX";
        dir_ = mkdtemp(tmpl);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string read(const std::string& rel)
    {
        std::ifstream in(dir_ + "/" + rel, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    unsigned perms(const std::string& rel)
    {
        struct stat st {};
        EXPECT_EQ(lstat((dir_ + "/" + rel).c_str(), &st), 0);
        return st.st_mode;
    }
    std::string dir_;
};

TEST_F(Archive, ScriptWithModeUtf8)
{
    json a = {{"script", {{"mode", 0100700}, {"encoding", "utf-8"}, {"data", "#!/bin/sh\necho ƒ\n"}}}};
    ASSERT_TRUE(flux::job::unpack_files(a, dir_));
    EXPECT_EQ(read("script"), "#!/bin/sh\necho ƒ\n");
    EXPECT_EQ(perms("script") & 07777, 0700u);
    EXPECT_TRUE(S_ISREG(perms("script")));
}

TEST_F(Archive, JsonBase64EmptyDirectorySymlinkAndArrayForm)
{
    json a = json::array({
        {{"path", "conf.json"}, {"mode", 0100600}, {"data", {{"resource", {{"exclude", "0"}}}}}},
        {{"path", "bin/data.bin"}, {"mode", 0100644}, {"encoding", "base64"}, {"data", "AAEC/w=="}},
        {{"path", "empty"}, {"mode", 0100644}, {"size", 0}},
        {{"path", "d/e"}, {"mode", 040755}},
        {{"path", "link"}, {"mode", 0120777}, {"data", "conf.json"}},
    });
    ASSERT_TRUE(flux::job::unpack_files(a, dir_));
    EXPECT_EQ(json::parse(read("conf.json")), (json{{"resource", {{"exclude", "0"}}}}));
    EXPECT_EQ(read("bin/data.bin"), std::string("\x00\x01\x02\xff", 4));
    EXPECT_EQ(read("empty"), "");
    EXPECT_TRUE(S_ISDIR(perms("d/e")));
    EXPECT_TRUE(S_ISLNK(perms("link")));
    EXPECT_EQ(fs::read_symlink(dir_ + "/link"), "conf.json");
}

TEST_F(Archive, UnsafePathsAreRefused)
{
    for (const char* p : {"/etc/passwd", "../escape", "a/../../b", "./x", "a//b", ""}) {
        auto r = flux::job::unpack_files(json{{p, {{"data", "x"}}}}, dir_);
        ASSERT_FALSE(r) << p;
        EXPECT_EQ(r.error().errnum, EINVAL);
    }
    EXPECT_FALSE(fs::exists(fs::path(dir_).parent_path() / "escape"));
}

TEST_F(Archive, MalformedEntriesAreRefused)
{
    EXPECT_FALSE(flux::job::unpack_files(json{{"x", "not an object"}}, dir_));
    EXPECT_FALSE(flux::job::unpack_files(json{{"x", {{"mode", -1}}}}, dir_));
    EXPECT_FALSE(flux::job::unpack_files(json{{"x", {{"encoding", "blobvec"}, {"data", json::array()}}}}, dir_));
    EXPECT_FALSE(flux::job::unpack_files(json{{"x", {{"mode", 0120777}}}}, dir_));  // a link without a target
    EXPECT_FALSE(flux::job::unpack_files(json{{"x", {{"mode", 010644}}}}, dir_));   // a FIFO
    EXPECT_FALSE(flux::job::unpack_files(json::array({{{"data", "no path"}}}), dir_));
    EXPECT_FALSE(flux::job::unpack_files(json("scalar"), dir_));
}

}  // namespace
