// Unit tests for flux::Reactor: timers on an injected clock, fd/zmq/signal/child watchers, hooks, defer, stop.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <flux/reactor.hpp>

using namespace flux;

namespace {

// A pipe closed at the end of the test.
struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() { EXPECT_EQ(pipe2(fd, O_NONBLOCK | O_CLOEXEC), 0); }
    ~Pipe()
    {
        for (int f : fd)
            if (f >= 0)
                close(f);
    }
    void put(char c = 'x') { EXPECT_EQ(write(fd[1], &c, 1), 1); }
    int rd() const { return fd[0]; }
};

// Run `r` until `done()` or until `timeout` real seconds pass (a hang bound,
// not a synchronisation delay). Returns done().
bool run_until(Reactor& r, const std::function<bool()>& done, double timeout = 10)
{
    bool expired = false;
    auto guard = r.timer(timeout, 0, [&] { expired = true; });
    while (!done() && !expired)
        r.run_once();
    return done();
}

// Reactor with a clock the test moves by hand.
class ClockTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        r_.set_clock([this] { return t_; });
    }
    void advance_to(double t)
    {
        t_ = t;
        r_.run_once(true);
    }
    double t_ = 100.0;
    Reactor r_;
};

}  // namespace

TEST_F(ClockTest, TimersFireInDeadlineOrder)
{
    std::vector<int> fired;
    auto t3 = r_.timer(3, 0, [&] { fired.push_back(3); });
    auto t1 = r_.timer(1, 0, [&] { fired.push_back(1); });
    auto t2 = r_.timer(2, 0, [&] { fired.push_back(2); });
    EXPECT_EQ(r_.now(), 100.0);
    EXPECT_EQ(r_.active_count(), 3u);
    advance_to(100.5);
    EXPECT_TRUE(fired.empty());
    advance_to(101);
    EXPECT_EQ(fired, (std::vector<int>{1}));
    advance_to(110);
    EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
    EXPECT_FALSE(t1->active());
    EXPECT_EQ(r_.active_count(), 0u);
    advance_to(120);
    EXPECT_EQ(fired.size(), 3u);
}

TEST_F(ClockTest, RepeatTimer)
{
    int n = 0;
    auto t = r_.timer(1, 2, [&] { n++; });
    advance_to(101);
    EXPECT_EQ(n, 1);
    advance_to(102);
    EXPECT_EQ(n, 1);
    advance_to(103);
    EXPECT_EQ(n, 2);
    EXPECT_TRUE(t->active());
    advance_to(200);  // far behind: fires once, not once per missed period
    EXPECT_EQ(n, 3);
    advance_to(201);
    EXPECT_EQ(n, 3);
    advance_to(202);
    EXPECT_EQ(n, 4);
    t->stop();
    EXPECT_FALSE(t->active());
    advance_to(300);
    EXPECT_EQ(n, 4);
}

TEST_F(ClockTest, ResetAndRestart)
{
    int n = 0;
    auto t = r_.timer(5, 0, [&] { n++; });
    advance_to(103);
    t->reset(5);  // now due at 108
    advance_to(106);
    EXPECT_EQ(n, 0);
    advance_to(108);
    EXPECT_EQ(n, 1);
    t->start();  // one-shot restarts with its `after`
    EXPECT_TRUE(t->active());
    advance_to(112);
    EXPECT_EQ(n, 1);
    advance_to(113);
    EXPECT_EQ(n, 2);
    t->reset(0, 1);  // becomes a repeat timer
    advance_to(113);
    EXPECT_EQ(n, 3);
    advance_to(114);
    EXPECT_EQ(n, 4);
}

TEST_F(ClockTest, StopBeforeDeadline)
{
    int n = 0;
    auto t = r_.timer(1, 0, [&] { n++; });
    t->stop();
    EXPECT_EQ(r_.active_count(), 0u);
    advance_to(200);
    EXPECT_EQ(n, 0);
}

TEST_F(ClockTest, TimerCallbacksMayStopOrDestroyTimers)
{
    int a = 0, b = 0;
    TimerPtr tb;
    TimerPtr ta = r_.timer(1, 1, [&] {
        a++;
        tb.reset();  // due in this same pass
        ta.reset();  // itself
    });
    tb = r_.timer(1, 0, [&] { b++; });
    advance_to(105);
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(r_.active_count(), 0u);
}

TEST_F(ClockTest, FarTimerDoesNotOverflowTimeout)
{
    // Blocking run_once with a deadline ~115 days away must still wake for
    // a ready fd (and must not overflow the epoll timeout).
    auto far = r_.timer(1e7, 0, [] {});
    Pipe p;
    p.put();
    int n = 0;
    auto w = r_.fd(p.rd(), EPOLLIN, [&](uint32_t) { n++; });
    r_.run_once();
    EXPECT_EQ(n, 1);
    EXPECT_TRUE(far->active());
}

// Adaptive polling, seen through the clock: each empty poll reads it once.
// A clock that moves 1 us per read; a timer 1 ms ahead bounds every wait.
TEST(ReactorSpin, PollsOnlyWithinTheWindowAfterActivity)
{
    Reactor r;
    int reads = 0;
    double t = 100.0;
    r.set_clock([&] {
        reads++;
        return t += 1e-6;
    });
    r.update_time();
    auto bound = r.timer(1e-3, 1e-3, [] {});
    auto polls = [&] {
        reads = 0;
        r.run_once();
        return reads;
    };
    Pipe p;
    auto w = r.fd(p.rd(), EPOLLIN, [&](uint32_t) {
        char c;
        (void)!read(p.rd(), &c, 1);
    });

    // Off: one wait, no polling.
    EXPECT_LE(polls(), 3);
    // On, after noted activity: about one read per microsecond of window.
    r.set_spin(20e-6);
    r.note_activity();
    EXPECT_GE(polls(), 15);
    // The window has passed: sleeps at once.
    EXPECT_LE(polls(), 3);
    // Any event counts as activity by default...
    p.put();
    polls();
    EXPECT_GE(polls(), 15);
    // ...or only noted activity.
    r.set_spin(20e-6, false);
    p.put();
    polls();
    EXPECT_LE(polls(), 3);
    r.note_activity();
    EXPECT_GE(polls(), 15);
    // A poll that finds an event ends the window's wait at once.
    r.note_activity();
    p.put();
    EXPECT_LE(polls(), 3);
}

TEST(Reactor, RealClockTimerAndRunReturnsWhenIdle)
{
    Reactor r;
    int n = 0;
    auto t = r.timer(0.001, 0, [&] { n++; });
    EXPECT_EQ(r.run(), 0);  // fires, then no active watchers
    EXPECT_EQ(n, 1);
}

TEST(Reactor, StopBeforeRunReturnsAtOnce)
{
    Reactor r;
    int n = 0;
    auto t = r.timer(0, 0, [&] { n++; });
    r.stop(3);
    EXPECT_TRUE(r.stopped());
    EXPECT_EQ(r.run(), 3);
    EXPECT_EQ(n, 0);
    EXPECT_FALSE(r.stopped());
    EXPECT_EQ(r.run(), 0);  // the stop was consumed
    EXPECT_EQ(n, 1);
}

TEST(Reactor, StopFromCallback)
{
    Reactor r;
    auto t = r.timer(0, 0.001, [&] { r.stop(9); });
    EXPECT_EQ(r.run(), 9);
    EXPECT_TRUE(t->active());
}

TEST(Reactor, FdWatcher)
{
    Reactor r;
    Pipe p;
    std::string got;
    WatcherPtr w = r.fd(p.rd(), EPOLLIN, [&](uint32_t ev) {
        EXPECT_TRUE(ev & EPOLLIN);
        char c;
        while (read(p.rd(), &c, 1) == 1)
            got.push_back(c);
    });
    EXPECT_TRUE(w->active());
    r.run_once(true);
    EXPECT_EQ(got, "");
    p.put('a');
    p.put('b');
    ASSERT_TRUE(run_until(r, [&] { return got.size() == 2; }));
    EXPECT_EQ(got, "ab");
    w->stop();
    p.put('c');
    r.run_once(true);
    EXPECT_EQ(got, "ab");
    w->start();
    ASSERT_TRUE(run_until(r, [&] { return got.size() == 3; }));
    EXPECT_EQ(got, "abc");
}

// Changing a watcher's events by creating the new watcher before the old
// one is destroyed must leave the fd watched (the local server does this
// when its output backs up; it once hung clients).
TEST(Reactor, ReplacingAnFdWatcherKeepsTheFdWatched)
{
    Reactor r;
    Pipe p;
    int old_calls = 0, new_calls = 0;
    WatcherPtr w = r.fd(p.rd(), EPOLLIN, [&](uint32_t) { old_calls++; });
    w = r.fd(p.rd(), EPOLLIN, [&](uint32_t) {
        new_calls++;
        char c;
        (void)!read(p.rd(), &c, 1);
    });
    p.put();
    EXPECT_TRUE(run_until(
        r, [&] { return new_calls == 1; }, 5));
    EXPECT_EQ(old_calls, 0);
    w.reset();  // the current owner does unwatch it
    p.put();
    r.run_once(true);
    EXPECT_EQ(new_calls, 1);
}

TEST(Reactor, WatcherDestroysItselfInCallback)
{
    Reactor r;
    Pipe p;
    p.put();
    int n = 0;
    WatcherPtr w;
    w = r.fd(p.rd(), EPOLLIN, [&](uint32_t) {
        n++;
        w.reset();
    });
    EXPECT_EQ(r.run(), 0);  // returns: the only watcher is gone
    EXPECT_EQ(n, 1);
    EXPECT_EQ(w, nullptr);
    EXPECT_EQ(r.active_count(), 0u);
}

TEST(Reactor, CallbackDestroysAnotherReadyWatcher)
{
    Reactor r;
    Pipe p1, p2;
    p1.put();
    p2.put();
    int n = 0;
    WatcherPtr w1, w2;
    w1 = r.fd(p1.rd(), EPOLLIN, [&](uint32_t) {
        n++;
        w1.reset();
        w2.reset();
    });
    w2 = r.fd(p2.rd(), EPOLLIN, [&](uint32_t) {
        n++;
        w1.reset();
        w2.reset();
    });
    r.run_once();
    EXPECT_EQ(n, 1);  // whichever ran first, the other never runs
    EXPECT_EQ(r.active_count(), 0u);
}

TEST(Reactor, DeferRunsAfterCallbacksInOrder)
{
    Reactor r;
    std::vector<std::string> log;
    WatcherPtr chk;
    auto t = r.timer(0, 0, [&] {
        log.push_back("timer");
        r.defer([&] {
            log.push_back("defer1");
            r.defer([&] { log.push_back("nested"); });
        });
        r.defer([&] {
            log.push_back("defer2");
            chk.reset();  // destroy a watcher from a deferred call
        });
    });
    chk = r.check([&] { log.push_back("check"); });
    r.run_once(true);
    EXPECT_EQ(log, (std::vector<std::string>{"timer", "check", "defer1", "defer2", "nested"}));
    EXPECT_EQ(chk, nullptr);

    int n = 0;  // defer with no watchers at all
    r.defer([&] { n++; });
    r.run_once();
    EXPECT_EQ(n, 1);
}

TEST(Reactor, PrepareCheckIdleHooks)
{
    Reactor r;
    std::vector<std::string> log;
    auto prep = r.prepare([&] { log.push_back("prepare"); });
    auto chk = r.check([&] { log.push_back("check"); });
    int idles = 0;
    auto idle = r.idle([&] {
        if (++idles == 3)
            r.stop(1);
    });
    EXPECT_EQ(r.active_count(), 3u);
    EXPECT_EQ(r.run(), 1);  // idle keeps the loop from blocking
    EXPECT_EQ(idles, 3);
    ASSERT_EQ(log.size(), 6u);
    for (size_t i = 0; i < log.size(); i += 2) {
        EXPECT_EQ(log[i], "prepare");
        EXPECT_EQ(log[i + 1], "check");
    }
    idle->stop();
    prep->stop();
    chk->stop();
    EXPECT_EQ(r.active_count(), 0u);
    EXPECT_EQ(r.run(), 0);
}

TEST(Reactor, ChildWatcherGetsExitStatus)
{
    Reactor r;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
        _exit(7);
    pid_t got_pid = 0;
    int status = -1;
    auto w = r.child(pid, [&](pid_t p, int st) {
        got_pid = p;
        status = st;
    });
    ASSERT_TRUE(run_until(r, [&] { return got_pid != 0; }));
    EXPECT_EQ(got_pid, pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 7);
    EXPECT_FALSE(w->active());
    EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);  // already reaped
    EXPECT_EQ(errno, ECHILD);
    w->start();  // a reaped child cannot be watched again
    EXPECT_FALSE(w->active());
}

TEST(Reactor, ChildWatcherSeesSignalDeath)
{
    Reactor r;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    int status = -1;
    bool done = false;
    auto w = r.child(pid, [&](pid_t, int st) {
        status = st;
        done = true;
    });
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    ASSERT_TRUE(run_until(r, [&] { return done; }));
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(Reactor, SignalWatcher)
{
    Reactor r;
    std::vector<int> a, b;
    auto w1 = r.signal(SIGUSR1, [&](int sig) { a.push_back(sig); });
    auto w2 = r.signal(SIGUSR1, [&](int sig) { b.push_back(sig); });
    auto w3 = r.signal(SIGUSR2, [&](int sig) { b.push_back(sig); });
    ASSERT_EQ(raise(SIGUSR1), 0);
    ASSERT_TRUE(run_until(r, [&] { return !a.empty() && !b.empty(); }));
    EXPECT_EQ(a, (std::vector<int>{SIGUSR1}));
    EXPECT_EQ(b, (std::vector<int>{SIGUSR1}));

    w1->stop();  // the other SIGUSR1 watcher still gets it
    ASSERT_EQ(raise(SIGUSR1), 0);
    ASSERT_EQ(raise(SIGUSR2), 0);
    ASSERT_TRUE(run_until(r, [&] { return b.size() == 3; }));
    EXPECT_EQ(a.size(), 1u);
    EXPECT_NE(std::find(b.begin(), b.end(), SIGUSR2), b.end());
}

TEST(Reactor, ZmqWatcherDeliversAllQueuedMessages)
{
    void* ctx = zmq_ctx_new();
    ASSERT_NE(ctx, nullptr);
    void* a = zmq_socket(ctx, ZMQ_PAIR);
    void* b = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof(linger));
    ASSERT_EQ(zmq_bind(b, "inproc://test-reactor"), 0);
    ASSERT_EQ(zmq_connect(a, "inproc://test-reactor"), 0);
    for (int i = 0; i < 5; i++) {
        std::string s = "m" + std::to_string(i);
        ASSERT_EQ(zmq_send(a, s.data(), s.size(), 0), static_cast<int>(s.size()));
    }
    {
        Reactor r;
        std::vector<std::string> got;
        // Reads one message per call: the rest must still be delivered even
        // though the zmq fd is edge-triggered.
        auto w = r.zmq(b, [&] {
            char buf[16];
            int n = zmq_recv(b, buf, sizeof(buf), ZMQ_DONTWAIT);
            if (n >= 0)
                got.emplace_back(buf, static_cast<size_t>(n));
        });
        ASSERT_TRUE(run_until(r, [&] { return got.size() == 5; }));
        // More, sent from inside the loop.
        auto t = r.timer(0, 0, [&] {
            for (int i = 5; i < 8; i++) {
                std::string s = "m" + std::to_string(i);
                zmq_send(a, s.data(), s.size(), 0);
            }
        });
        ASSERT_TRUE(run_until(r, [&] { return got.size() == 8; }));
        for (size_t i = 0; i < got.size(); i++)
            EXPECT_EQ(got[i], "m" + std::to_string(i));
        w.reset();
    }
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

// An edge watcher's probe is asked only when the watcher may be ready: at
// the start, after its fd signals, after Reactor::touch(key), and while the
// last answer was yes. A ready key whose fd never signals is not seen until
// it is touched (that is the contract ZeroMQ sockets rely on).
struct EdgeKey {
    int pending = 0;  // "messages" waiting
    int probes = 0;   // times the probe was asked
};

TEST(Reactor, EdgeWatcherProbesOnlyWhenItMayBeReady)
{
    Reactor r;
    Pipe p;
    EdgeKey key;
    int calls = 0;
    auto probe = [](void* k) {
        auto* e = static_cast<EdgeKey*>(k);
        e->probes++;
        return e->pending > 0;
    };
    auto w = r.edge(p.rd(), &key, probe, [&] {
        calls++;
        key.pending--;
    });
    r.run_once(true);
    EXPECT_EQ(key.probes, 1);  // asked once at the start: nothing
    for (int i = 0; i < 5; i++)
        r.run_once(true);
    EXPECT_EQ(key.probes, 1);  // not asked again while nothing happens

    key.pending = 2;  // ready, but neither signaled nor touched
    r.run_once(true);
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(key.probes, 1);

    Reactor::touch(&key);
    for (int i = 0; i < 5; i++)
        r.run_once(true);
    EXPECT_EQ(calls, 2);  // touched: drained while the probe says yes
    int after_drain = key.probes;
    r.run_once(true);
    EXPECT_EQ(key.probes, after_drain);  // then left alone

    key.pending = 1;
    p.put();  // the fd signals
    ASSERT_TRUE(run_until(r, [&] { return calls == 3; }));
    EXPECT_EQ(key.pending, 0);
}
