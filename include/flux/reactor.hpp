// Event loop: one per thread. fd, timer, ZeroMQ socket, signal, child process,
// and prepare/check/idle watchers on epoll.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace flux {

class Reactor;

/// A registration with a reactor. Destroying it unregisters it, so a watcher
/// never outlives the callback's captures by accident. Watchers must be
/// destroyed before their reactor. Callbacks may create or destroy any
/// watcher, including the one running.
class Watcher {
public:
    virtual ~Watcher();
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    /// Start (or restart) watching; new watchers start already started.
    virtual void start();
    virtual void stop();
    bool active() const { return active_; }

protected:
    Watcher(Reactor& r, int kind);
    Reactor& reactor_;
    int kind_;
    bool active_ = false;
    uint64_t id_;
    friend class Reactor;
};
using WatcherPtr = std::unique_ptr<Watcher>;

/// A timer: fires `after` seconds from start, then every `repeat` seconds
/// when repeat > 0.
class TimerWatcher : public Watcher {
public:
    ~TimerWatcher() override;
    void start() override;
    void stop() override;
    /// Change the schedule and restart.
    void reset(double after, double repeat = 0);

private:
    friend class Reactor;
    TimerWatcher(Reactor& r, double after, double repeat, std::function<void()> cb);
    double after_, repeat_, deadline_ = 0;
    std::shared_ptr<std::function<void()>> cb_;
};
using TimerPtr = std::unique_ptr<TimerWatcher>;

class Reactor {
public:
    Reactor();
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    /// Run until stop() is called or no watcher is active. Returns the code
    /// given to stop() (0 when the loop ran out of watchers).
    int run();
    /// One iteration: wait for events (unless `nowait`), dispatch them.
    void run_once(bool nowait = false);
    void stop(int rc = 0);
    bool stopped() const { return stopped_; }

    /// Monotonic time in seconds, cached at each loop iteration.
    double now() const { return now_; }
    void update_time();
    /// Replace the clock (tests): a function returning monotonic seconds.
    void set_clock(std::function<double()> clock);
    /// Adaptive polling: for `seconds` after the last activity, poll instead
    /// of sleeping (0 disables). Trades a little CPU for wake-up latency.
    /// Activity is any event, or with `any_event` false only what
    /// note_activity() marks.
    void set_spin(double seconds, bool any_event = true)
    {
        spin_ = seconds;
        spin_any_ = any_event;
    }
    double spin() const { return spin_; }
    bool spin_any() const { return spin_any_; }
    /// Count now as activity: the next waits poll first (for spin()).
    void note_activity()
    {
        update_time();
        last_activity_ = now_;
    }

    /// `events` is an EPOLLIN/EPOLLOUT mask; the callback gets the revents.
    WatcherPtr fd(int fd, uint32_t events, std::function<void(uint32_t)> cb);
    TimerPtr timer(double after, double repeat, std::function<void()> cb);
    /// A ZeroMQ socket (void* as from cppzmq's handle()): the callback runs
    /// while the socket has a message to read. It should read a bounded batch.
    /// (Defined with the ZeroMQ code, so that clients need not load libzmq.)
    WatcherPtr zmq(void* socket, std::function<void()> cb);
    /// An edge-triggered fd whose readiness only `probe(key)` can tell (as a
    /// ZeroMQ socket's ZMQ_FD): the callback runs while the probe says yes.
    /// The probe is asked after the fd signals, after touch(key), and again
    /// after each callback, never otherwise.
    WatcherPtr edge(int fd, void* key, bool (*probe)(void*), std::function<void()> cb);
    /// `key` was used on this thread in a way that may consume its fd's edge
    /// (any ZeroMQ operation on a socket): the thread's reactor asks its
    /// probe again (one reactor per thread watches edge fds).
    static void touch(void* key);
    /// Signals are delivered through signalfd: the signal is blocked in the
    /// calling thread (other threads must block it too).
    WatcherPtr signal(int signum, std::function<void(int)> cb);
    /// Fires once when the child exits, with its wait status; it is reaped.
    WatcherPtr child(pid_t pid, std::function<void(pid_t, int)> cb);
    /// Run before blocking / after waking / on every iteration (idle
    /// watchers also make the loop not block).
    WatcherPtr prepare(std::function<void()> cb);
    WatcherPtr check(std::function<void()> cb);
    WatcherPtr idle(std::function<void()> cb);

    /// Run `fn` once when run() is next entered (not from run_once()).
    void on_run(std::function<void()> fn) { run_hook_ = std::move(fn); }

    /// Run `fn` once, soon, from the loop (after the current callbacks): a
    /// safe place to destroy objects whose callback is running now.
    void defer(std::function<void()> fn);

    /// The number of active watchers (diagnostics).
    size_t active_count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    double now_ = 0;
    double spin_ = 0;
    double last_activity_ = 0;
    bool spin_any_ = true;
    bool stopped_ = false;
    int rc_ = 0;
    std::function<double()> clock_;
    std::function<void()> run_hook_;
    friend class Watcher;
    friend class TimerWatcher;
};

}  // namespace flux
