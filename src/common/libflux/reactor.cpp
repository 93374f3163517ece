// Reactor: epoll-based event loop with timers, ZeroMQ sockets, signalfd and pidfd.
#include <flux/reactor.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <set>
#include <unordered_map>
#include <vector>

namespace flux {

namespace {

// Keys passed to Reactor::touch on this thread since its reactor last looked.
thread_local std::vector<void*> touched_keys;

// Which watcher's registration of an fd is current, per epoll set. A new
// watcher on an fd takes the registration over (a watcher is often
// replaced by one with another event mask before the old one is gone),
// and only the current owner removes it from epoll.
std::unordered_map<std::uint64_t, std::uint64_t>& fd_owners()
{
    thread_local std::unordered_map<std::uint64_t, std::uint64_t> owners;
    return owners;
}

std::uint64_t fd_key(int epfd, int fd)
{
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(epfd)) << 32) | static_cast<std::uint32_t>(fd);
}

// Callbacks are shared so that dispatch can hold one alive while the
// callback destroys its own watcher.
template <class F>
std::shared_ptr<F> share(F f)
{
    return std::make_shared<F>(std::move(f));
}

enum Kind { k_fd = 1, k_timer, k_edge, k_signal, k_child, k_prepare, k_check, k_idle };
constexpr uint64_t SIGFD_ID = 0;

double monotonic_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

struct Reactor::Impl {
    int epfd = -1;
    uint64_t next_id = 1;
    std::unordered_map<uint64_t, Watcher*> all;
    std::set<std::pair<double, uint64_t>> timers;
    std::vector<uint64_t> edges, prepares, checks, idles;
    int sigfd = -1;
    sigset_t sigmask;
    std::unordered_map<int, std::vector<uint64_t>> sigwatch;
    size_t nactive = 0;
    std::vector<std::function<void()>> deferred;

    void remove_id(std::vector<uint64_t>& v, uint64_t id)
    {
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (*it == id) {
                v.erase(it);
                return;
            }
        }
    }
    void update_sigfd()
    {
        int fd = signalfd(sigfd, &sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sigfd < 0 && fd >= 0) {
            sigfd = fd;
            struct epoll_event ev = {};
            ev.events = EPOLLIN;
            ev.data.u64 = SIGFD_ID;
            epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &ev);
        }
    }
};

// ---- watcher kinds ---------------------------------------------------------

namespace {

class FdWatcher : public Watcher {
public:
    FdWatcher(Reactor& r, int fd, uint32_t events, std::function<void(uint32_t)> cb, int epfd)
        : Watcher(r, k_fd), fd_(fd), events_(events), cb_(share(std::move(cb))), epfd_(epfd)
    {
    }
    ~FdWatcher() override { FdWatcher::stop(); }
    void start() override
    {
        if (active_)
            return;
        struct epoll_event ev = {};
        ev.events = events_;
        ev.data.u64 = id_;
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd_, &ev) < 0 && errno == EEXIST)
            epoll_ctl(epfd_, EPOLL_CTL_MOD, fd_, &ev);
        fd_owners()[fd_key(epfd_, fd_)] = id_;
        Watcher::start();
    }
    void stop() override
    {
        if (!active_)
            return;
        auto& owners = fd_owners();
        if (auto it = owners.find(fd_key(epfd_, fd_)); it != owners.end() && it->second == id_) {
            epoll_ctl(epfd_, EPOLL_CTL_DEL, fd_, nullptr);
            owners.erase(it);
        }
        Watcher::stop();
    }
    int fd_;
    uint32_t events_;
    std::shared_ptr<std::function<void(uint32_t)>> cb_;
    int epfd_;
};

// An edge-triggered fd with a readiness probe (ZeroMQ sockets). Probing can
// be costly (libzmq polls its mailbox), so it is done only while the watcher
// may be ready: after its fd signaled, after Reactor::touch, or while the
// last answer was yes.
class EdgeWatcher : public FdWatcher {
public:
    EdgeWatcher(Reactor& r, void* key, bool (*probe)(void*), int fd, std::function<void()> cb, int epfd)
        : FdWatcher(r, fd, EPOLLIN | EPOLLET, nullptr, epfd), key_(key), probe_(probe), edge_cb_(share(std::move(cb)))
    {
        kind_ = k_edge;
    }
    bool readable()
    {
        if (!check_)
            return false;
        if (!probe_(key_)) {
            check_ = false;
            return false;
        }
        return true;
    }
    void* key_;
    bool (*probe_)(void*);
    bool check_ = true;
    std::shared_ptr<std::function<void()>> edge_cb_;
};

class SignalWatcher : public Watcher {
public:
    SignalWatcher(Reactor& r, int signum, std::function<void(int)> cb)
        : Watcher(r, k_signal), signum_(signum), cb_(share(std::move(cb)))
    {
    }
    ~SignalWatcher() override { stop(); }
    int signum_;
    std::shared_ptr<std::function<void(int)>> cb_;
};

class ChildWatcher : public Watcher {
public:
    ChildWatcher(Reactor& r, pid_t pid, int pidfd, std::function<void(pid_t, int)> cb, int epfd)
        : Watcher(r, k_child), pid_(pid), pidfd_(pidfd), cb_(share(std::move(cb))), epfd_(epfd)
    {
    }
    ~ChildWatcher() override
    {
        ChildWatcher::stop();
        if (pidfd_ >= 0)
            close(pidfd_);
    }
    void start() override
    {
        if (active_ || reaped_)
            return;
        if (pidfd_ >= 0) {
            struct epoll_event ev = {};
            ev.events = EPOLLIN;
            ev.data.u64 = id_;
            epoll_ctl(epfd_, EPOLL_CTL_ADD, pidfd_, &ev);
        }
        Watcher::start();
    }
    void stop() override
    {
        if (!active_)
            return;
        if (pidfd_ >= 0)
            epoll_ctl(epfd_, EPOLL_CTL_DEL, pidfd_, nullptr);
        Watcher::stop();
    }
    pid_t pid_;
    int pidfd_;
    std::shared_ptr<std::function<void(pid_t, int)>> cb_;
    int epfd_;
    bool reaped_ = false;
};

class HookWatcher : public Watcher {
public:
    HookWatcher(Reactor& r, int kind, std::function<void()> cb) : Watcher(r, kind), cb_(share(std::move(cb))) {}
    ~HookWatcher() override { stop(); }
    std::shared_ptr<std::function<void()>> cb_;
};

}  // namespace

// ---- Watcher base ------------------------------------------------------------

Watcher::Watcher(Reactor& r, int kind) : reactor_(r), kind_(kind)
{
    id_ = r.impl_->next_id++;
    r.impl_->all.emplace(id_, this);
}

Watcher::~Watcher()
{
    reactor_.impl_->all.erase(id_);
}

void Watcher::start()
{
    if (active_)
        return;
    active_ = true;
    auto& im = *reactor_.impl_;
    im.nactive++;
    switch (kind_) {
        case k_edge:
            im.edges.push_back(id_);
            break;
        case k_prepare:
            im.prepares.push_back(id_);
            break;
        case k_check:
            im.checks.push_back(id_);
            break;
        case k_idle:
            im.idles.push_back(id_);
            break;
        case k_signal: {
            auto* sw = static_cast<SignalWatcher*>(this);
            auto& v = im.sigwatch[sw->signum_];
            v.push_back(id_);
            if (v.size() == 1) {
                sigaddset(&im.sigmask, sw->signum_);
                sigset_t one;
                sigemptyset(&one);
                sigaddset(&one, sw->signum_);
                pthread_sigmask(SIG_BLOCK, &one, nullptr);
                im.update_sigfd();
            }
            break;
        }
        default:
            break;
    }
}

void Watcher::stop()
{
    if (!active_)
        return;
    active_ = false;
    auto& im = *reactor_.impl_;
    im.nactive--;
    switch (kind_) {
        case k_edge:
            im.remove_id(im.edges, id_);
            break;
        case k_prepare:
            im.remove_id(im.prepares, id_);
            break;
        case k_check:
            im.remove_id(im.checks, id_);
            break;
        case k_idle:
            im.remove_id(im.idles, id_);
            break;
        case k_signal: {
            auto* sw = static_cast<SignalWatcher*>(this);
            auto& v = im.sigwatch[sw->signum_];
            im.remove_id(v, id_);
            if (v.empty()) {
                sigdelset(&im.sigmask, sw->signum_);
                im.update_sigfd();
            }
            break;
        }
        default:
            break;
    }
}

// ---- TimerWatcher --------------------------------------------------------------

TimerWatcher::TimerWatcher(Reactor& r, double after, double repeat, std::function<void()> cb)
    : Watcher(r, k_timer), after_(after), repeat_(repeat), cb_(std::make_shared<std::function<void()>>(std::move(cb)))
{
}

TimerWatcher::~TimerWatcher()
{
    stop();
}

void TimerWatcher::start()
{
    if (active_)
        return;
    deadline_ = reactor_.now() + after_;
    reactor_.impl_->timers.emplace(deadline_, id_);
    Watcher::start();
}

void TimerWatcher::stop()
{
    if (!active_)
        return;
    reactor_.impl_->timers.erase({deadline_, id_});
    Watcher::stop();
}

void TimerWatcher::reset(double after, double repeat)
{
    stop();
    after_ = after;
    repeat_ = repeat;
    start();
}

// ---- Reactor -------------------------------------------------------------------

Reactor::Reactor() : impl_(std::make_unique<Impl>())
{
    impl_->epfd = epoll_create1(EPOLL_CLOEXEC);
    sigemptyset(&impl_->sigmask);
    update_time();
}

Reactor::~Reactor()
{
    if (impl_->sigfd >= 0)
        close(impl_->sigfd);
    if (impl_->epfd >= 0)
        close(impl_->epfd);
}

void Reactor::update_time()
{
    now_ = clock_ ? clock_() : monotonic_now();
}

void Reactor::set_clock(std::function<double()> clock)
{
    clock_ = std::move(clock);
    update_time();
}

size_t Reactor::active_count() const
{
    return impl_->nactive;
}

void Reactor::stop(int rc)
{
    stopped_ = true;
    rc_ = rc;
}

int Reactor::run()
{
    if (run_hook_) {
        auto hook = std::move(run_hook_);
        run_hook_ = nullptr;
        hook();
    }
    // A stop() that came before run() still counts: return at once.
    while (!stopped_ && impl_->nactive > 0)
        run_once();
    int rc = rc_;
    stopped_ = false;
    rc_ = 0;
    return rc;
}

void Reactor::run_once(bool nowait)
{
    auto& im = *impl_;
    update_time();
    // Sockets used since the last look may hold messages their fd will
    // not announce (see EdgeWatcher).
    auto mark_touched = [&] {
        if (touched_keys.empty())
            return;
        std::vector<void*> keys;
        keys.swap(touched_keys);
        for (void* key : keys)
            for (uint64_t id : im.edges)
                if (auto it = im.all.find(id); it != im.all.end()) {
                    auto* ew = static_cast<EdgeWatcher*>(it->second);
                    if (ew->key_ == key)
                        ew->check_ = true;
                }
    };
    auto call_hooks = [&](const std::vector<uint64_t>& ids) {
        if (ids.empty())
            return;
        std::vector<uint64_t> copy = ids;
        for (uint64_t id : copy) {
            auto it = im.all.find(id);
            if (it != im.all.end() && it->second->active()) {
                auto cb = static_cast<HookWatcher*>(it->second)->cb_;
                (*cb)();
            }
        }
    };
    call_hooks(im.prepares);

    bool busy = nowait || !im.idles.empty() || !im.deferred.empty();
    mark_touched();
    if (!busy) {
        for (uint64_t id : im.edges) {
            auto it = im.all.find(id);
            if (it != im.all.end() && static_cast<EdgeWatcher*>(it->second)->readable()) {
                busy = true;
                break;
            }
        }
    }
    int timeout = -1;
    if (busy) {
        timeout = 0;
    } else if (!im.timers.empty()) {
        double dt = im.timers.begin()->first - now_;
        // Clamped: a far deadline (> ~24 days) must not overflow int.
        timeout = dt <= 0 ? 0 : static_cast<int>(std::min(std::ceil(dt * 1000.0), 2147483647.0));
    }
    struct epoll_event evs[64];
    int n = 0;
    // Adaptive polling: shortly after activity, poll without sleeping for a
    // little while, since a wake-up from sleep costs tens of microseconds.
    // Each empty poll yields the core, so the polling only uses time that
    // no other thread on this core wants.
    if (timeout != 0 && spin_ > 0 && now_ - last_activity_ < spin_) {
        double until = last_activity_ + spin_;
        if (!im.timers.empty())
            until = std::min(until, im.timers.begin()->first);
        do {
            n = epoll_wait(im.epfd, evs, 64, 0);
            update_time();
            if (n == 0)
                sched_yield();
        } while (n == 0 && now_ < until);
        if (n == 0 && !im.timers.empty()) {
            double dt = im.timers.begin()->first - now_;
            timeout = dt <= 0 ? 0 : static_cast<int>(std::min(std::ceil(dt * 1000.0), 2147483647.0));
        }
    }
    if (n == 0)
        n = epoll_wait(im.epfd, evs, 64, timeout);
    update_time();
    if (n > 0 && spin_any_)
        last_activity_ = now_;
    for (int i = 0; i < n; i++) {
        uint64_t id = evs[i].data.u64;
        if (id == SIGFD_ID) {
            struct signalfd_siginfo si;
            while (im.sigfd >= 0 && read(im.sigfd, &si, sizeof(si)) == sizeof(si)) {
                int sig = static_cast<int>(si.ssi_signo);
                std::vector<uint64_t> ids = im.sigwatch[sig];
                for (uint64_t wid : ids) {
                    auto it = im.all.find(wid);
                    if (it != im.all.end() && it->second->active()) {
                        auto cb = static_cast<SignalWatcher*>(it->second)->cb_;
                        (*cb)(sig);
                    }
                }
            }
            continue;
        }
        auto it = im.all.find(id);
        if (it == im.all.end() || !it->second->active())
            continue;
        Watcher* w = it->second;
        if (w->kind_ == k_fd) {
            auto cb = static_cast<FdWatcher*>(w)->cb_;
            (*cb)(evs[i].events);
        } else if (w->kind_ == k_child) {
            auto* cw = static_cast<ChildWatcher*>(w);
            int status = 0;
            pid_t r = waitpid(cw->pid_, &status, WNOHANG);
            if (r == cw->pid_ || (r < 0 && errno == ECHILD)) {
                cw->stop();
                cw->reaped_ = true;
                auto cb = cw->cb_;
                (*cb)(cw->pid_, r < 0 ? 0 : status);
            }
        } else if (w->kind_ == k_edge)
            static_cast<EdgeWatcher*>(w)->check_ = true;  // readiness is checked below
    }
    // Expired timers, in deadline order.
    while (!im.timers.empty() && im.timers.begin()->first <= now_) {
        auto [deadline, id] = *im.timers.begin();
        im.timers.erase(im.timers.begin());
        auto it = im.all.find(id);
        if (it == im.all.end())
            continue;
        auto* tw = static_cast<TimerWatcher*>(it->second);
        if (tw->repeat_ > 0) {
            double next = deadline + tw->repeat_;
            if (next <= now_)
                next = now_ + tw->repeat_;
            tw->deadline_ = next;
            im.timers.emplace(next, id);
        } else {
            tw->active_ = false;
            im.nactive--;
        }
        auto cb = tw->cb_;
        (*cb)();
    }
    if (!im.edges.empty()) {
        mark_touched();
        std::vector<uint64_t> copy = im.edges;
        for (uint64_t id : copy) {
            auto it = im.all.find(id);
            if (it == im.all.end() || !it->second->active())
                continue;
            auto* ew = static_cast<EdgeWatcher*>(it->second);
            if (ew->readable()) {
                auto cb = ew->edge_cb_;
                (*cb)();
            }
        }
    }
    call_hooks(im.checks);
    call_hooks(im.idles);
    while (!im.deferred.empty()) {
        auto fns = std::move(im.deferred);
        im.deferred.clear();
        for (auto& fn : fns)
            fn();
    }
}

void Reactor::defer(std::function<void()> fn)
{
    impl_->deferred.push_back(std::move(fn));
}

WatcherPtr Reactor::fd(int fd, uint32_t events, std::function<void(uint32_t)> cb)
{
    auto w = std::make_unique<FdWatcher>(*this, fd, events, std::move(cb), impl_->epfd);
    w->start();
    return w;
}

TimerPtr Reactor::timer(double after, double repeat, std::function<void()> cb)
{
    TimerPtr w(new TimerWatcher(*this, after, repeat, std::move(cb)));
    w->start();
    return w;
}

WatcherPtr Reactor::edge(int fd, void* key, bool (*probe)(void*), std::function<void()> cb)
{
    auto w = std::make_unique<EdgeWatcher>(*this, key, probe, fd, std::move(cb), impl_->epfd);
    w->start();
    return w;
}

void Reactor::touch(void* key)
{
    if (touched_keys.empty() || touched_keys.back() != key)
        touched_keys.push_back(key);
}

WatcherPtr Reactor::signal(int signum, std::function<void(int)> cb)
{
    auto w = std::make_unique<SignalWatcher>(*this, signum, std::move(cb));
    w->start();
    return w;
}

WatcherPtr Reactor::child(pid_t pid, std::function<void(pid_t, int)> cb)
{
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    auto w = std::make_unique<ChildWatcher>(*this, pid, pidfd, std::move(cb), impl_->epfd);
    w->start();
    return w;
}

WatcherPtr Reactor::prepare(std::function<void()> cb)
{
    auto w = std::make_unique<HookWatcher>(*this, k_prepare, std::move(cb));
    w->start();
    return w;
}

WatcherPtr Reactor::check(std::function<void()> cb)
{
    auto w = std::make_unique<HookWatcher>(*this, k_check, std::move(cb));
    w->start();
    return w;
}

WatcherPtr Reactor::idle(std::function<void()> cb)
{
    auto w = std::make_unique<HookWatcher>(*this, k_idle, std::move(cb));
    w->start();
    return w;
}

}  // namespace flux
