// Unit tests for the PMI-1 codec, server state machine and client (end to end over socketpair).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "flux/pmi.hpp"
#include "flux/pmi_client.hpp"

namespace {

using flux::PmiMessage;
using flux::PmiServer;

// Feed `line` to `rank` and return whatever the server queued for that rank.
std::string ask(PmiServer& server, int rank, const std::string& line)
{
    auto r = server.feed(rank, line);
    EXPECT_TRUE(r.has_value()) << line << ": " << (r ? "" : r.error().text);
    std::string out;
    for (auto& [to, bytes] : server.take_output()) {
        if (to == rank)
            out += bytes;
    }
    return out;
}

TEST(PmiMessage, parses_tokens_in_order)
{
    auto m = PmiMessage::parse("cmd=put  kvsname=k\tkey=a value=x=y\r");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->get("cmd"), "put");
    EXPECT_EQ(m->get("kvsname"), "k");
    EXPECT_EQ(m->get("value"), "x=y");
    EXPECT_FALSE(m->get("nope"));
    EXPECT_EQ(m->fields().size(), 4u);
}

TEST(PmiMessage, joins_free_text_and_parses_ints)
{
    auto m = PmiMessage::parse("cmd=abort exitcode=-3 msg=it broke badly");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->get("msg"), "it broke badly");
    EXPECT_EQ(m->get_int("exitcode"), -3);
    EXPECT_FALSE(m->get_int("msg"));
    auto e = PmiMessage::parse("cmd=x n=+7 bad=7x big=99999999999 empty=");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->get_int("n"), 7);
    EXPECT_FALSE(e->get_int("bad"));
    EXPECT_FALSE(e->get_int("big"));
    EXPECT_FALSE(e->get_int("empty"));
    EXPECT_EQ(e->get("empty"), "");
}

TEST(PmiMessage, rejects_malformed)
{
    for (const char* bad : {"", "   ", "hello", "hello cmd=init", "=x", "cmd=x =y"}) {
        auto m = PmiMessage::parse(bad);
        ASSERT_FALSE(m) << bad;
        EXPECT_EQ(m.error().errnum, EPROTO);
    }
}

TEST(PmiServer, handshake_and_info)
{
    PmiServer server(3, "kvs_42");
    EXPECT_FALSE(server.initialized(0));
    EXPECT_EQ(ask(server, 0, "cmd=init pmi_version=1 pmi_subversion=1\n"),
              "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n");
    EXPECT_TRUE(server.initialized(0));
    EXPECT_EQ(ask(server, 0, "cmd=get_maxes\n"),
              "cmd=maxes kvsname_max=256 keylen_max=256 vallen_max=1024\n");
    EXPECT_EQ(ask(server, 0, "cmd=get_appnum\n"), "cmd=appnum appnum=0\n");
    EXPECT_EQ(ask(server, 0, "cmd=get_my_kvsname\n"), "cmd=my_kvsname kvsname=kvs_42\n");
    EXPECT_EQ(ask(server, 0, "cmd=get_universe_size\n"), "cmd=universe_size size=3\n");
    EXPECT_EQ(ask(server, 1, "cmd=init pmi_version=2 pmi_subversion=0\n"),
              "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=-1\n");
    EXPECT_FALSE(server.initialized(1));
}

TEST(PmiServer, put_barrier_get_across_three_ranks)
{
    PmiServer server(3, "kvs");
    for (int r = 0; r < 3; r++) {
        std::string rs = std::to_string(r);
        ask(server, r, "cmd=init pmi_version=1 pmi_subversion=1\n");
        EXPECT_EQ(ask(server, r, "cmd=put kvsname=kvs key=card" + rs + " value=addr-" + rs + "\n"),
                  "cmd=put_result rc=0\n");
    }
    EXPECT_TRUE(server.kvs().empty());  // not committed before the barrier
    EXPECT_EQ(ask(server, 0, "cmd=barrier_in\n"), "");
    EXPECT_EQ(ask(server, 1, "cmd=barrier_in\n"), "");
    ASSERT_TRUE(server.feed(2, "cmd=barrier_in\n"));
    auto out = server.take_output();
    ASSERT_EQ(out.size(), 3u);
    for (int r = 0; r < 3; r++) {
        EXPECT_EQ(out[static_cast<std::size_t>(r)].first, r);
        EXPECT_EQ(out[static_cast<std::size_t>(r)].second, "cmd=barrier_out\n");
    }
    EXPECT_EQ(server.barriers_completed(), 1);
    EXPECT_EQ(server.kvs().size(), 3u);
    for (int r = 0; r < 3; r++) {
        for (int k = 0; k < 3; k++) {
            std::string ks = std::to_string(k);
            EXPECT_EQ(ask(server, r, "cmd=get kvsname=kvs key=card" + ks + "\n"),
                      "cmd=get_result rc=0 value=addr-" + ks + "\n");
        }
    }
    // A second barrier works the same way.
    for (int r = 0; r < 3; r++)
        ASSERT_TRUE(server.feed(r, "cmd=barrier_in\n"));
    EXPECT_EQ(server.take_output().size(), 3u);
    EXPECT_EQ(server.barriers_completed(), 2);
}

TEST(PmiServer, missing_key_and_bad_puts_answer_rc_minus_one)
{
    PmiServer server(1, "kvs");
    EXPECT_EQ(ask(server, 0, "cmd=get kvsname=kvs key=nope\n"),
              "cmd=get_result rc=-1 msg=key_not_found\n");
    EXPECT_EQ(ask(server, 0, "cmd=get kvsname=other key=a\n"),
              "cmd=get_result rc=-1 msg=invalid_kvsname\n");
    EXPECT_EQ(ask(server, 0, "cmd=put kvsname=kvs key=a value=has space\n"),
              "cmd=put_result rc=-1 msg=invalid_value\n");
    EXPECT_EQ(ask(server, 0, "cmd=put kvsname=kvs key=a\n"),
              "cmd=put_result rc=-1 msg=invalid_value\n");
    EXPECT_EQ(ask(server, 0, "cmd=put kvsname=kvs value=1\n"),
              "cmd=put_result rc=-1 msg=invalid_key\n");
    EXPECT_EQ(ask(server, 0, "cmd=put kvsname=kvs key=" + std::string(256, 'k') + " value=1\n"),
              "cmd=put_result rc=-1 msg=invalid_key\n");
    EXPECT_EQ(ask(server, 0, "cmd=put kvsname=kvs key=big value=" + std::string(1024, 'v') + "\n"),
              "cmd=put_result rc=-1 msg=invalid_value\n");
    EXPECT_EQ(ask(server, 0, "cmd=put kvsname=kvs key=max value=" + std::string(1023, 'v') + "\n"),
              "cmd=put_result rc=0\n");
    EXPECT_EQ(ask(server, 0, "cmd=put kvsname=kvs key=empty value=\n"), "cmd=put_result rc=0\n");
    EXPECT_EQ(ask(server, 0, "cmd=get kvsname=kvs key=empty\n"), "cmd=get_result rc=0 value=\n");
    EXPECT_EQ(ask(server, 0, "cmd=publish_name service=s port=p\n"),
              "cmd=publish_result rc=-1 msg=publish_unsupported\n");
}

TEST(PmiServer, preput_is_visible)
{
    PmiServer server(2, "kvs");
    ASSERT_TRUE(server.preput("PMI_process_mapping", "(vector,(0,1,2))"));
    EXPECT_FALSE(server.preput("bad key", "v"));
    EXPECT_FALSE(server.preput("k", "bad value"));
    EXPECT_EQ(ask(server, 1, "cmd=get kvsname=kvs key=PMI_process_mapping\n"),
              "cmd=get_result rc=0 value=(vector,(0,1,2))\n");
}

TEST(PmiServer, partial_lines_across_feeds)
{
    PmiServer server(1, "kvs");
    std::string req = "cmd=init pmi_version=1 pmi_subversion=1\ncmd=get_appnum\ncmd=get_my_kvsname\n";
    for (char c : req)
        ASSERT_TRUE(server.feed(0, std::string_view(&c, 1)));
    auto out = server.take_output();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].second,
              "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n"
              "cmd=appnum appnum=0\ncmd=my_kvsname kvsname=kvs\n");
    EXPECT_TRUE(server.take_output().empty());
}

TEST(PmiServer, malformed_input_fails_that_rank_only)
{
    const std::vector<std::string> bads = {"garbage\n", "cmd=bogus\n", "novalue=1\n", "=x\n",
                                           "cmd\n", std::string("cmd=\0init\n", 10)};
    for (const std::string& bad : bads) {
        PmiServer server(2, "kvs");
        auto r = server.feed(0, bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().errnum, EPROTO);
        EXPECT_FALSE(server.feed(0, "cmd=get_appnum\n"));  // stays failed
        EXPECT_EQ(ask(server, 1, "cmd=get_appnum\n"), "cmd=appnum appnum=0\n");
    }
    PmiServer server(2, "kvs");
    std::string binary("cmd=put kvsname=kvs key=\x01\xff value=\x7f\n");
    EXPECT_TRUE(server.feed(0, binary));  // odd bytes are data, not a crash
    EXPECT_FALSE(server.feed(5, "cmd=get_appnum\n"));
    EXPECT_FALSE(server.feed(-1, "cmd=get_appnum\n"));
    ASSERT_TRUE(server.feed(1, "cmd=barrier_in\n"));
    auto twice = server.feed(1, "cmd=barrier_in\n");
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().errnum, EPROTO);
}

TEST(PmiServer, oversize_line)
{
    PmiServer server(1, "kvs");
    std::string chunk(4096, 'x');
    flux::Result<void> r;
    for (int i = 0; i < 20 && r; i++)
        r = server.feed(0, chunk);  // no newline ever arrives
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnum, EMSGSIZE);

    PmiServer s2(1, "kvs");
    auto r2 = s2.feed(0, "cmd=put key=k value=" + std::string(flux::pmi_line_max, 'v') + "\n");
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().errnum, EMSGSIZE);
}

TEST(PmiServer, finalize_and_abort)
{
    PmiServer server(2, "kvs");
    EXPECT_EQ(ask(server, 0, "cmd=finalize\n"), "cmd=finalize_ack\n");
    EXPECT_TRUE(server.finalized(0));
    EXPECT_FALSE(server.finalized(1));
    EXPECT_FALSE(server.all_finalized());
    EXPECT_FALSE(server.feed(0, "cmd=get_appnum\n"));  // nothing after finalize

    EXPECT_FALSE(server.aborted());
    EXPECT_EQ(ask(server, 1, "cmd=abort exitcode=7 msg=out of memory\n"), "");
    ASSERT_TRUE(server.aborted());
    EXPECT_EQ(server.aborted()->rank, 1);
    EXPECT_EQ(server.aborted()->exit_code, 7);
    EXPECT_EQ(server.aborted()->message, "out of memory");
    EXPECT_EQ(ask(server, 1, "cmd=finalize\n"), "cmd=finalize_ack\n");
    EXPECT_TRUE(server.all_finalized());
}

TEST(PmiServer, spawn_block_is_refused)
{
    PmiServer server(1, "kvs");
    EXPECT_EQ(ask(server, 0, "mcmd=spawn\nnprocs=1\nexecname=a.out\narg1=x y\nendcmd\n"),
              "cmd=spawn_result rc=-1 msg=spawn_unsupported\n");
    EXPECT_EQ(ask(server, 0, "cmd=get_appnum\n"), "cmd=appnum appnum=0\n");
}

TEST(PmiServer, invalid_construction_is_an_error_not_a_crash)
{
    for (auto [size, name] : {std::pair{0, "kvs"}, std::pair{-3, "kvs"}, std::pair{2, ""},
                              std::pair{2, "a b"}}) {
        PmiServer server(size, name);
        auto r = server.feed(0, "cmd=get_appnum\n");
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().errnum, EINVAL);
        EXPECT_TRUE(server.take_output().empty());
        EXPECT_FALSE(server.all_finalized());
    }
}

TEST(PmiClient, from_env)
{
    ::unsetenv("PMI_FD");
    auto none = flux::PmiClient::from_env();
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().errnum, ENOENT);

    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ::setenv("PMI_FD", std::to_string(sv[0]).c_str(), 1);
    ::setenv("PMI_RANK", "3", 1);
    ::setenv("PMI_SIZE", "2", 1);
    auto bad = flux::PmiClient::from_env();
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().errnum, EINVAL);
    ::setenv("PMI_RANK", "1", 1);
    auto ok = flux::PmiClient::from_env();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->rank(), 1);
    EXPECT_EQ(ok->size(), 2);
    EXPECT_TRUE(ok->kvsname().empty());
    EXPECT_FALSE(ok->put("k", "v"));  // not initialized
    ::unsetenv("PMI_FD");
    ::unsetenv("PMI_RANK");
    ::unsetenv("PMI_SIZE");
    ::close(sv[1]);
}

TEST(PmiClient, server_hangup_is_an_error)
{
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    flux::PmiClient client(sv[0], 0, 1);
    ::close(sv[1]);
    auto r = client.init();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().errnum == EPIPE || r.error().errnum == ECONNRESET);
}

struct ClientReport {
    std::vector<std::string> failures;
    std::vector<std::string> values;
    int universe = 0;
};

// One process's life: init, put own key, barrier, read everyone's, finalize.
void run_client(int fd, int rank, int size, ClientReport& report)
{
    flux::PmiClient client(fd, rank, size);
    auto check = [&](const flux::Result<void>& r, const char* what) {
        if (!r)
            report.failures.push_back(std::string(what) + ": " + r.error().text);
        return r.has_value();
    };
    if (!check(client.init(), "init"))
        return;
    if (client.kvsname() != "job-e2e")
        report.failures.push_back("kvsname " + client.kvsname());
    if (auto u = client.universe_size())
        report.universe = *u;
    auto bad = client.put("has space", "v");
    if (bad || bad.error().errnum != EINVAL)
        report.failures.push_back("bad key accepted");
    std::string key = "business-card-" + std::to_string(rank);
    if (!check(client.put(key, "tcp://10.0.0." + std::to_string(rank) + ":5000"), "put"))
        return;
    if (!check(client.barrier(), "barrier"))
        return;
    for (int r = 0; r < size; r++) {
        auto v = client.get("business-card-" + std::to_string(r));
        report.values.push_back(v ? *v : "error: " + v.error().text);
    }
    auto missing = client.get("no-such-key");
    if (missing || missing.error().errnum != ENOENT)
        report.failures.push_back("missing key not ENOENT");
    check(client.finalize(), "finalize");
}

TEST(PmiEndToEnd, four_clients_exchange_keys)
{
    constexpr int size = 4;
    PmiServer server(size, "job-e2e");
    std::array<int, size> server_fds{};
    std::array<ClientReport, size> reports;
    std::vector<std::thread> threads;
    for (int r = 0; r < size; r++) {
        int sv[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        server_fds[static_cast<std::size_t>(r)] = sv[1];
        threads.emplace_back(run_client, sv[0], r, size,
                             std::ref(reports[static_cast<std::size_t>(r)]));
    }

    // Serve until every client finalized; the deadline only bounds a hang.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string error;
    while (!server.all_finalized() && error.empty()
           && std::chrono::steady_clock::now() < deadline) {
        std::array<pollfd, size> pfds{};
        for (int r = 0; r < size; r++) {
            int fd = server.finalized(r) ? -1 : server_fds[static_cast<std::size_t>(r)];
            pfds[static_cast<std::size_t>(r)] = {fd, POLLIN, 0};  // poll skips fd -1
        }
        if (::poll(pfds.data(), size, 1000) < 0)
            continue;
        for (int r = 0; r < size && error.empty(); r++) {
            if (!(pfds[static_cast<std::size_t>(r)].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[256];  // small on purpose: forces partial lines
            ssize_t n = ::read(server_fds[static_cast<std::size_t>(r)], buf, sizeof(buf));
            if (n <= 0) {
                error = "client " + std::to_string(r) + " hung up";
                break;
            }
            if (auto fr = server.feed(r, std::string_view(buf, static_cast<std::size_t>(n))); !fr)
                error = fr.error().text;
        }
        for (auto& [rank, bytes] : server.take_output()) {
            int fd = server_fds[static_cast<std::size_t>(rank)];
            if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
                error = "short write";
        }
    }
    for (int fd : server_fds)
        ::close(fd);  // unblocks any client still waiting, so join cannot hang
    for (auto& t : threads)
        t.join();

    EXPECT_EQ(error, "");
    EXPECT_TRUE(server.all_finalized());
    EXPECT_EQ(server.barriers_completed(), 1);
    EXPECT_EQ(server.kvs().size(), static_cast<std::size_t>(size));
    for (int r = 0; r < size; r++) {
        const ClientReport& rep = reports[static_cast<std::size_t>(r)];
        EXPECT_TRUE(rep.failures.empty()) << "rank " << r << ": " << rep.failures.front();
        EXPECT_EQ(rep.universe, size);
        ASSERT_EQ(rep.values.size(), static_cast<std::size_t>(size)) << "rank " << r;
        for (int k = 0; k < size; k++)
            EXPECT_EQ(rep.values[static_cast<std::size_t>(k)],
                      "tcp://10.0.0." + std::to_string(k) + ":5000");
    }
}

}  // namespace
