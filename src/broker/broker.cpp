// Broker core: bootstrap, routing (RFC 3), events, life cycle, logging.
#include "broker.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <cstring>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/handle.hpp>
#include <flux/hostlist.hpp>
#include <flux/jobid.hpp>
#include <flux/pmi_client.hpp>
#include <flux/version.hpp>

#include "libconf/conf.hpp"
#include "libflux/cstrings.hpp"
#include "local_server.hpp"
#include "module_host.hpp"
#include "rexec.hpp"

extern char** environ;

namespace flux::broker {

using json = nlohmann::json;

namespace {

double wall_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string local_hostname()
{
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
}

// "(vector,(0,N,PPN))" style PMI mapping -> RFC 34 taskmap JSON.
std::string mapping_from_pmi(const std::string& pmi, uint32_t size)
{
    json map = json::array();
    std::string s = pmi;
    size_t pos = s.find("(vector,");
    if (pos != std::string::npos) {
        pos += 8;
        while (true) {
            size_t open = s.find('(', pos);
            if (open == std::string::npos)
                break;
            size_t close = s.find(')', open);
            if (close == std::string::npos)
                break;
            int a = 0, b = 0, c = 0;
            if (sscanf(s.c_str() + open, "(%d,%d,%d)", &a, &b, &c) == 3)
                map.push_back({a, b, c, 1});
            pos = close + 1;
        }
    }
    if (map.empty())
        map.push_back({0, 1, size, 1});
    return json{{"version", 1}, {"map", map}}.dump();
}

}  // namespace

Broker::Broker(Options opts) : opts_(std::move(opts)), config_(std::make_unique<json>(json::object()))
{
    start_time_ = reactor_.now();
    owner_ = getuid();
    zctx_ = zmq_ctx_new();
    zmq_ctx_set(zctx_, ZMQ_IO_THREADS, 1);
    zmq_ctx_set(zctx_, ZMQ_BLOCKY, 0);
}

Broker::~Broker()
{
    rexec_.reset();
    modules_.reset();
    local_.reset();
    overlay_.reset();
    zmq_ctx_term(zctx_);
}

const nlohmann::json& Broker::config() const
{
    return *config_;
}

const char* Broker::state_name() const
{
    static const char* names[] = {"join", "init", "quorum", "run", "cleanup", "shutdown", "finalize", "exit"};
    return names[static_cast<int>(state_)];
}

Result<void> Broker::load_config()
{
    if (!opts_.config_path.empty()) {
        auto c = conf::load_path(opts_.config_path);
        if (!c)
            return std::unexpected(c.error());
        *config_ = std::move(*c);
    }
    for (const auto& o : opts_.conf_overrides) {
        if (auto r = conf::apply_override(*config_, o); !r)
            return std::unexpected(r.error());
    }
    if (auto r = conf::check_known(*config_); !r)
        return r;
    attrs_.set_internal("config.path", opts_.config_path, Attributes::readonly);
    return {};
}

Result<void> Broker::setup_attrs()
{
    for (const auto& [k, v] : opts_.setattrs)
        attrs_.set_initial(k, v);
    if (!attrs_.get("hostname"))
        attrs_.set_initial("hostname", local_hostname());
    attrs_.set_internal("version", FLUX_VERSION_STRING);
    attrs_.set_internal("broker.pid", std::to_string(getpid()));
    attrs_.set_internal("broker.starttime", fmt::format("{:.6f}", wall_now()));
    const std::pair<const char*, const char*> defaults[] = {
        {"instance-level", "0"},
        {"jobid-path", "/"},
        {"log-level", "6"},
        {"log-stderr-level", "3"},
        {"log-forward-level", "7"},
        {"log-ring-size", "1024"},
        {"broker.poll-spin-us", "50"},
        {"broker.shutdown-timeout", "30"},
        {"tbon.keepalive_period", "1"},
        {"tbon.lost_timeout", "5"},
        // The scheduler after job-exec, as flux-core's rc1: jobs a restart
        // takes up from the store are allocated as soon as it says hello.
        {"broker.modules", "resource,job-manager@0,job-ingest@0,job-exec@0,sched-simple@0,job-list@0"},
    };
    for (const auto& [k, v] : defaults)
        if (!attrs_.get(k))
            attrs_.set_initial(k, v);
    if (opts_.verbose > 0)  // -v: info on stderr, -vv: debug
        attrs_.set_initial("log-stderr-level", opts_.verbose > 1 ? "7" : "6");
    for (auto [name, level] : {std::pair{"log-level", &log_level_}, std::pair{"log-stderr-level", &stderr_level_},
                               std::pair{"log-forward-level", &forward_level_}}) {
        *level = parse_level(attrs_.get_or(name, ""));
        if (*level < 0)
            return fail(EINVAL, fmt::format("attribute {}: invalid level '{}' (0-7 or a syslog name)", name,
                                            attrs_.get_or(name, "")));
    }
    auto ring = attrs_.get_number("log-ring-size", 1024, 1, 1e7);
    // The broker's thread polls for 50 us after a local client's message
    // before it sleeps (yielding the core to any thread that wants it): the
    // client's next request often comes sooner than a wake-up would.
    // Overlay traffic does not count: ZeroMQ's own threads sleep anyway, and
    // a tree of brokers all polling on few cores slows each other.
    auto spin = attrs_.get_number("broker.poll-spin-us", 50, 0, 1e6);
    auto grace = attrs_.get_number("broker.shutdown-timeout", 30, 0, 1e6);
    for (const auto* r : {&ring, &spin, &grace})
        if (!*r)
            return std::unexpected(r->error());
    logbuf_.set_capacity(static_cast<size_t>(*ring));
    reactor_.set_spin(*spin * 1e-6, false);
    shutdown_timeout_ = *grace;
    return {};
}

Result<void> Broker::bootstrap()
{
    // Fanout: -Stbon.fanout, -Stbon.topo=kary:N, or [tbon] fanout in config.
    uint32_t fanout = 2;
    if (auto f = conf::get_int(*config_, "tbon.fanout", 2); f)
        fanout = static_cast<uint32_t>(*f);
    else
        return std::unexpected(f.error());
    if (auto t = attrs_.get("tbon.topo")) {
        if (t->rfind("kary:", 0) != 0)
            return fail(EINVAL, "unsupported tbon.topo '" + *t + "' (use kary:N)");
        attrs_.set_initial("tbon.fanout", t->substr(5));
    }
    if (fanout < 1 || fanout > 1024)
        return fail(EINVAL, fmt::format("tbon.fanout {} out of range 1-1024", fanout));
    auto f = attrs_.get_number("tbon.fanout", fanout, 1, 1024);
    if (!f || *f != static_cast<uint32_t>(*f))
        return fail(EINVAL, f ? "attribute tbon.fanout: must be a whole number" : f.error().text);
    fanout = static_cast<uint32_t>(*f);
    auto keepalive = attrs_.get_number("tbon.keepalive_period", 1, 0.01, 3600);
    auto lost = attrs_.get_number("tbon.lost_timeout", 5, 0.05, 86400);
    for (const auto* r : {&keepalive, &lost})
        if (!*r)
            return std::unexpected(r->error());
    attrs_.set_internal("tbon.fanout", std::to_string(fanout));
    attrs_.set_internal("tbon.topo", fmt::format("kary:{}", fanout));

    std::string interface = attrs_.get_or("tbon.interface", "127.0.0.1");
    std::string parent_uri;
    std::string pmi_mapping;
    auto pmi = PmiClient::from_env();
    if (pmi) {
        if (auto r = join_parent_instance(); !r)
            return r;
        if (auto r = pmi->init(); !r)
            return fail(r.error().errnum, "PMI init: " + r.error().text);
        rank_ = static_cast<uint32_t>(pmi->rank());
        size_ = static_cast<uint32_t>(pmi->size());
        overlay_ = std::make_unique<Overlay>(*this, zctx_, rank_, Topology{size_, fanout}, *keepalive, *lost);
        auto ep = overlay_->bind(interface);
        if (!ep)
            return std::unexpected(ep.error());
        if (!ep->empty()) {
            if (auto r = pmi->put(fmt::format("flux.tbon.{}", rank_), *ep); !r)
                return fail(r.error().errnum, "PMI put: " + r.error().text);
        }
        if (auto r = pmi->put(fmt::format("flux.host.{}", rank_), attrs_.get_or("hostname", "")); !r)
            return fail(r.error().errnum, "PMI put: " + r.error().text);
        if (auto r = pmi->barrier(); !r)
            return fail(r.error().errnum, "PMI barrier: " + r.error().text);
        if (auto p = overlay_->topology().parent(rank_)) {
            auto uri = pmi->get(fmt::format("flux.tbon.{}", *p));
            if (!uri)
                return fail(uri.error().errnum, fmt::format("PMI get parent endpoint: {}", uri.error().text));
            parent_uri = *uri;
        }
        if (auto m = pmi->get("PMI_process_mapping"))
            pmi_mapping = *m;
        if (rank_ == 0) {  // rank 0 knows every rank's hostname (the hostlist attribute)
            Hostlist hl;
            for (uint32_t r = 0; r < size_; r++) {
                auto h = pmi->get(fmt::format("flux.host.{}", r));
                if (!h)
                    return fail(h.error().errnum, fmt::format("PMI get hostname of rank {}: {}", r, h.error().text));
                if (auto a = hl.append(*h); !a)
                    return fail(EINVAL, fmt::format("rank {} hostname '{}': {}", r, *h, a.error().text));
            }
            attrs_.set_internal("hostlist", hl.encode());
        }
        (void)pmi->finalize();
        // Our PMI is not our children's: the initial program and processes
        // started here must not find it (a nested instance has its own).
        for (const char* v : {"PMI_FD", "PMI_RANK", "PMI_SIZE", "PMI_SPAWNED"})
            unsetenv(v);
    } else if (pmi.error().errnum != ENOENT) {
        return fail(pmi.error().errnum, "PMI: " + pmi.error().text);
    } else if (auto pe = attrs_.get("tbon.parent-endpoint")) {
        // Rejoin: a broker restarted by hand takes its old place in a
        // running instance (-Sbroker.rank=R -Sbroker.size=N
        // -Stbon.parent-endpoint=URI). It has no children of its own.
        auto r = attrs_.get_number("broker.rank", -1, 1, 1e7);
        auto n = attrs_.get_number("broker.size", -1, 2, 1e7);
        if (!r || !n || *r < 1 || *n < 2 || *r >= *n)
            return fail(EINVAL, "rejoin needs broker.rank (1..size-1) and broker.size with tbon.parent-endpoint");
        rank_ = static_cast<uint32_t>(*r);
        size_ = static_cast<uint32_t>(*n);
        overlay_ = std::make_unique<Overlay>(*this, zctx_, rank_, Topology{size_, fanout}, *keepalive, *lost);
        if (!overlay_->children().empty())
            return fail(EINVAL, fmt::format("rank {} has children: only leaves can rejoin by hand", rank_));
        parent_uri = *pe;
    } else {
        overlay_ = std::make_unique<Overlay>(*this, zctx_, 0, Topology{1, fanout}, *keepalive, *lost);
    }
    if (rank_ == 0 && !attrs_.get("hostlist"))
        attrs_.set_internal("hostlist", attrs_.get_or("hostname", ""));
    attrs_.set_internal("rank", std::to_string(rank_));
    attrs_.set_internal("size", std::to_string(size_));
    attrs_.set_internal("broker.mapping", mapping_from_pmi(pmi_mapping, size_));
    if (!overlay_->endpoint().empty())
        attrs_.set_internal("tbon.endpoint", overlay_->endpoint());
    if (!parent_uri.empty())
        attrs_.set_internal("tbon.parent-endpoint", parent_uri);

    // Run directory and local socket.
    auto rundir = attrs_.get("rundir");
    bool own_rundir = false;
    if (!rundir) {
        // A child instance lives in its job's temporary directory, which
        // the job shell removes whatever becomes of us.
        // Deep nesting makes that path too long for a socket's name: then
        // /tmp it is (and we remove it ourselves, as always).
        const char* jobtmp = parent_ ? getenv("FLUX_JOB_TMPDIR") : nullptr;
        std::string tmpl = fmt::format("{}/flux-XXXXXX", jobtmp && *jobtmp ? jobtmp : "/tmp");
        if (tmpl.size() + std::strlen("/local") >= sizeof(sockaddr_un::sun_path))
            tmpl = "/tmp/flux-XXXXXX";
        if (!mkdtemp(tmpl.data()))
            return fail(errno, fmt::format("cannot create rundir {}: {}", tmpl, strerror(errno)));
        rundir = tmpl;
        own_rundir = true;
    } else if (mkdir(rundir->c_str(), 0700) < 0 && errno != EEXIST) {
        return fail(errno, fmt::format("cannot create rundir {}: {}", *rundir, strerror(errno)));
    }
    attrs_.set_internal("rundir", *rundir);
    attrs_.set_internal("broker.rundir-cleanup", own_rundir ? "1" : "0");
    // State that must survive a restart goes in statedir; without one, a
    // directory in the rundir serves (and goes away with it).
    auto statedir = attrs_.get("statedir");
    if (!statedir)
        statedir = *rundir + "/state";
    if (mkdir(statedir->c_str(), 0700) < 0 && errno != EEXIST)
        return fail(errno, fmt::format("cannot create statedir {}: {}", *statedir, strerror(errno)));
    attrs_.set_internal("statedir", *statedir);
    bool guests = false;
    if (auto g = conf::get_bool(*config_, "access.allow-guest-user", false); g)
        guests = *g;
    else
        return std::unexpected(g.error());
    std::string sockpath = *rundir + "/local";
    local_ = std::make_unique<LocalServer>(*this, sockpath, guests);
    if (auto r = local_->listen(); !r)
        return std::unexpected(r.error());
    attrs_.set_internal("local-uri", "local://" + sockpath);
    if (rank_ == 0 && parent_ && !attrs_.get("resource.R")) {
        if (auto r = fetch_job_R(); !r)
            return r;
    }
    if (rank_ != 0)
        parent_.reset();  // only rank 0 has more to say to the enclosing instance
    // Read once at start-up: changing them later would do nothing.
    for (const char* a :
         {"hostname", "instance-level", "jobid", "parent-uri", "jobid-path", "broker.poll-spin-us",
          "broker.shutdown-timeout", "tbon.keepalive_period", "tbon.lost_timeout", "tbon.interface", "broker.modules"})
        attrs_.freeze(a);

    modules_ = std::make_unique<ModuleHost>(*this);
    rexec_ = std::make_unique<Rexec>(*this);
    // Built-in services.
    for (const char* svc : {"broker", "attr", "log", "event", "service", "module", "overlay", "rexec", "config"})
        services_[svc] = nullptr;
    if (!parent_uri.empty()) {
        if (auto r = overlay_->connect(parent_uri); !r)
            return std::unexpected(r.error());
    }
    return {};
}

// A broker started by a job shell (PMI from the shell, FLUX_URI naming the
// enclosing instance, FLUX_JOB_ID our job there) is one of a child
// instance's brokers: take instance-level, jobid, jobid-path, parent-uri
// and our node's hostname from the enclosing instance.
Result<void> Broker::join_parent_instance()
{
    const char* uri = getenv("FLUX_URI");
    const char* jobid = getenv("FLUX_JOB_ID");
    if (!uri || !*uri || !jobid || !*jobid)
        return {};
    auto id = parse_jobid(jobid);
    if (!id)
        return fail(EINVAL, fmt::format("FLUX_JOB_ID={}: not a job id", jobid));
    auto h = Handle::open(uri);
    if (!h)
        return fail(h.error().errnum,
                    fmt::format("cannot reach the enclosing instance at {}: {}", uri, h.error().message()));
    parent_ = std::move(*h);
    jobid_ = *id;
    auto level = parent_->getattr("instance-level");
    auto path = parent_->getattr("jobid-path");
    if (!level || !path)
        return fail(EPROTO, fmt::format("enclosing instance at {}: cannot read its attributes", uri));
    std::string f58 = encode_jobid(*id, JobIdEncoding::f58);
    attrs_.set_initial("instance-level", std::to_string(std::strtol(level->c_str(), nullptr, 10) + 1));
    attrs_.set_initial("jobid", f58);
    attrs_.set_initial("jobid-path", *path == "/" ? "/" + f58 : *path + "/" + f58);
    attrs_.set_initial("parent-uri", uri);
    bool named = std::any_of(opts_.setattrs.begin(), opts_.setattrs.end(),
                             [](const auto& kv) { return kv.first == "hostname"; });
    if (!named)
        if (auto host = parent_->getattr("hostname"))
            attrs_.set_initial("hostname", *host);
    return {};
}

// Rank 0 of a child instance: our resources are exactly our job's R in the
// enclosing instance (the resource module re-ranks it).
Result<void> Broker::fetch_job_R()
{
    auto r = parent_->rpc("job-info.lookup", fmt::format(R"({{"id":{},"keys":["R"]}})", jobid_)).get(30);
    if (!r)
        return fail(r.error().errnum, fmt::format("cannot get job {}'s R from the enclosing instance: {}",
                                                  encode_jobid(jobid_, JobIdEncoding::f58), r.error().message()));
    json resp = json::parse(r->payload, nullptr, false);
    if (!resp.is_object() || !resp.contains("R"))
        return fail(EPROTO, "job-info.lookup: malformed response from the enclosing instance");
    std::string path = attrs_.get_or("rundir", "") + "/R.json";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f)
        return fail(errno, fmt::format("{}: {}", path, strerror(errno)));
    std::string text = resp["R"].dump();
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok)
        return fail(EIO, fmt::format("{}: write failed", path));
    attrs_.set_initial("resource.R", path);
    return {};
}

// Tell the enclosing instance how to reach us (flux uri, flux proxy,
// flux jobs --recursive, flux alloc --bg): a memo on our job.
void Broker::post_uri_memo()
{
    if (!parent_ || rank_ != 0)
        return;
    std::string local = attrs_.get_or("local-uri", "");
    std::string uri = fmt::format("ssh://{}{}", attrs_.get_or("hostname", ""), local.substr(std::strlen("local://")));
    json req{{"id", jobid_}, {"memo", {{"uri", uri}}}};
    if (auto r = parent_->rpc("job-manager.memo", req.dump()).get(30); !r)
        log(3, fmt::format("cannot post our URI to the enclosing instance: {}", r.error().message()));
    parent_.reset();  // that was the last of it
}

int Broker::run()
{
    if (auto r = setup_attrs(); !r) {
        fmt::print(stderr, "flux-broker: {}\n", r.error().message());
        return 1;
    }
    if (auto r = load_config(); !r) {
        fmt::print(stderr, "flux-broker: {}\n", r.error().message());
        return 1;
    }
    if (auto r = bootstrap(); !r) {
        fmt::print(stderr, "flux-broker: {}\n", r.error().message());
        return 1;
    }
    sigint_w_ = reactor_.signal(SIGINT, [this](int) { begin_shutdown("interrupted", 130); });
    sigterm_w_ = reactor_.signal(SIGTERM, [this](int) { begin_shutdown("terminated", 143); });
    overlay_->start();
    log(6, fmt::format("boot: rank={} size={} fanout={} hostname={}", rank_, size_, overlay_->topology().fanout,
                       attrs_.get_or("hostname", "")));
    if (rank_ == 0)
        joined();
    else
        log(7, "joining parent");
    reactor_.run();
    local_.reset();  // not earlier: we may have been inside a client's callback
    if (modules_->abandoned()) {
        std::fflush(nullptr);
        _exit(exit_code_);  // a stuck module thread still holds ZeroMQ sockets
    }
    set_state(State::exit);
    if (attrs_.get_or("broker.rundir-cleanup", "0") == "1") {
        std::error_code ec;
        std::filesystem::remove_all(attrs_.get_or("rundir", ""), ec);
    }
    return exit_code_;
}

void Broker::set_state(State s)
{
    state_ = s;
    attrs_.set_internal("broker.state", state_name());
    log(7, fmt::format("state: {}", state_name()));
}

void Broker::joined()
{
    set_state(State::init);
    // Like flux-core's rc1: the instance is not up until its modules are.
    modules_->load_startup_modules([this](const Result<void>& r) {
        if (!r) {
            log(2, "init: " + r.error().message());
            fmt::print(stderr, "flux-broker: {}\n", r.error().message());
            begin_shutdown("module load failed", 1);
            return;
        }
        init_done();
    });
}

void Broker::init_done()
{
    if (shutdown_started_)
        return;
    if (rank_ != 0) {
        set_state(State::run);
        return;
    }
    set_state(State::quorum);
    subtree_changed(overlay_->subtree_status());
}

void Broker::subtree_changed(SubtreeStatus s)
{
    if (rank_ == 0 && state_ == State::quorum && s == SubtreeStatus::full) {
        log(6, fmt::format("quorum reached: {} broker(s) online after {:.3f}s", size_, reactor_.now() - start_time_));
        set_state(State::run);
        attrs_.set_internal("broker.quorum-time", fmt::format("{:.6f}", reactor_.now() - start_time_));
        post_uri_memo();
        if (attrs_.get_or("broker.rc2_none", "0") != "0")
            log(6, "no initial program (broker.rc2_none): running until shut down");
        else
            start_initial_program();
    }
}

std::vector<std::string> Broker::child_environment(std::vector<std::string> env) const
{
    if (env.empty()) {
        for (char** e = environ; *e; e++)
            env.emplace_back(*e);
    }
    // Processes talk to the broker they run under, whatever the caller had.
    std::erase_if(env, [](const std::string& e) { return e.starts_with("FLUX_URI="); });
    env.push_back("FLUX_URI=" + attrs_.get_or("local-uri", ""));
    return env;
}

void Broker::start_initial_program()
{
    std::vector<std::string> argv = opts_.initial_program;
    if (argv.empty()) {
        const char* sh = getenv("SHELL");
        argv.push_back(sh && *sh ? sh : "/bin/sh");
    }
    std::vector<std::string> envs = child_environment();
    std::vector<char*> av = c_strings(argv), ev = c_strings(envs);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, av[0], nullptr, &attr, av.data(), ev.data());
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        fmt::print(stderr, "flux-broker: {}: {}\n", argv[0], strerror(rc));
        begin_shutdown("initial program failed", rc == ENOENT ? 127 : 126);
        return;
    }
    initial_pid_ = pid;
    log(7, fmt::format("initial program started (pid {})", pid));
    initial_w_ = reactor_.child(pid, [this](pid_t, int status) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        initial_pid_ = -1;
        initial_kill_timer_.reset();
        log(7, fmt::format("initial program exited with code {}", code));
        begin_shutdown("initial program exited", code);
        if (children_gone_)
            finish_shutdown();
    });
}

void Broker::begin_shutdown(const std::string& why, int exit_code)
{
    if (exit_code >= 0 && !exit_code_set_) {
        exit_code_ = exit_code;
        exit_code_set_ = true;
    }
    if (shutdown_started_)
        return;
    shutdown_started_ = true;
    log(7, "shutdown: " + why);
    if (initial_pid_ > 0) {
        // Hang up on the initial program; insist if it lingers.
        kill(initial_pid_, SIGHUP);
        initial_kill_timer_ = reactor_.timer(10, 0, [this] {
            if (initial_pid_ > 0)
                kill(initial_pid_, SIGKILL);
        });
    }
    set_state(State::cleanup);
    if (rank_ == 0 && services_.contains("job-manager")) {
        // As flux-core's rc3: start no more jobs, cancel those running and
        // wait for them to end, so that their ends are stored and pending
        // jobs are kept for the next start. The children stay up meanwhile:
        // the jobs' shells run there.
        peers_[self_.id] = &self_;
        self_.on_response = [this](const Message& r) {
            if (r.errnum() != 0)
                log(4, fmt::format("shutdown: job-manager.quiesce: {}", r.error_text()));
            shutdown_children();
        };
        quiesce_timer_ = reactor_.timer(shutdown_timeout_, 0, [this] {
            log(3, "shutdown: timed out waiting for running jobs to end");
            reactor_.defer([this] { shutdown_children(); });
        });
        Message req = Message::request("job-manager.quiesce", "{}");
        req.userid = owner_;
        req.rolemask = role::owner;
        req.route.push_back(self_.id);
        req.has_route = true;
        route_request(std::move(req), &self_);
        return;
    }
    shutdown_children();
}

void Broker::shutdown_children()
{
    if (state_ != State::cleanup)
        return;
    quiesce_timer_.reset();
    self_.on_response = nullptr;
    peers_.erase(self_.id);
    set_state(State::shutdown);
    shutdown_timer_ = reactor_.timer(shutdown_timeout_, 0, [this] {
        log(3, "shutdown: timed out waiting for children");
        finish_shutdown();
    });
    overlay_->shutdown_children([this] {
        children_gone_ = true;
        if (initial_pid_ < 0)  // the exit code is the initial program's: wait for it
            finish_shutdown();
    });
}

void Broker::finish_shutdown()
{
    // Never from inside whatever callback got us here: unloading modules
    // destroys objects that may be on the stack (a module's own handler).
    if (finish_scheduled_)
        return;
    finish_scheduled_ = true;
    reactor_.defer([this] { do_finish_shutdown(); });
}

void Broker::do_finish_shutdown()
{
    if (state_ == State::finalize)
        return;
    shutdown_timer_.reset();
    if (initial_pid_ > 0)
        kill(initial_pid_, SIGKILL);
    set_state(State::finalize);
    modules_->unload_all(shutdown_timeout_);
    rexec_->kill_all();
    overlay_->say_goodbye();
    reactor_.stop(exit_code_);
}

void Broker::parent_lost()
{
    log(2, "lost connection to parent, exiting");
    if (!shutdown_started_)
        exit_code_ = 1, exit_code_set_ = true;
    begin_shutdown("parent lost");
}

void Broker::online_changed(const IdSet& online)
{
    online_ = online.encode();
    std::string payload = fmt::format("{{\"online\":\"{}\"}}", online_);
    auto monitors = online_monitors_;
    for (const auto& m : monitors)
        respond(m, payload);
}

void Broker::parent_requested_shutdown()
{
    begin_shutdown("parent requested shutdown");
}

// ---- routing ---------------------------------------------------------------------

void Broker::add_peer(Peer& p)
{
    peers_[p.id] = &p;
}

void Broker::remove_peer(Peer& p)
{
    auto it = peers_.find(p.id);
    if (it != peers_.end() && it->second == &p)
        peers_.erase(it);
    for (auto s = services_.begin(); s != services_.end();) {
        if (s->second == &p)
            s = services_.erase(s);
        else
            ++s;
    }
    for (auto* list : {&dmesg_followers_, &online_monitors_}) {
        std::erase_if(*list, [&](const Message& f) { return !f.route.empty() && f.route.back() == p.id; });
    }
    if (rexec_)
        rexec_->peer_gone(p.id);
    // Tell every service this peer used that it is gone (RFC 6 disconnect).
    auto used = std::move(p.used);
    p.used.clear();
    for (const auto& [svc, nodeid] : used) {
        if (svc == "event" || svc == "attr" || svc == "log" || svc == "service" || svc == "broker")
            continue;  // stateless toward clients, or cleaned up above
        Message d = Message::request(svc + ".disconnect", {}, nodeid, msgflag::noresponse);
        d.userid = p.userid;
        d.rolemask = p.rolemask;
        d.route.push_back(p.id);
        d.has_route = true;
        route_request(std::move(d), nullptr);
    }
}

Result<void> Broker::service_add(const std::string& name, Peer* p)
{
    if (name.empty() || name.find('.') != std::string::npos)
        return fail(EINVAL, "invalid service name '" + name + "'");
    auto it = services_.find(name);
    if (it != services_.end())
        return fail(EEXIST, "service '" + name + "' is already registered");
    services_[name] = p;
    return {};
}

void Broker::service_remove(const std::string& name, Peer* p)
{
    auto it = services_.find(name);
    if (it != services_.end() && it->second == p)
        services_.erase(it);
}

void Broker::receive(Peer& from, Message&& m)
{
    switch (m.type) {
        case MsgType::request:
            if (from.kind == Peer::Kind::client || from.kind == Peer::Kind::module) {
                uint32_t target = m.has_flag(msgflag::upstream) ? NODEID_ANY : m.nodeid();
                if (from.used.size() < 1024)  // bound the bookkeeping per peer
                    from.used.emplace(std::string(m.service()), target);
            }
            m.route.push_back(from.id);
            m.has_route = true;
            route_request(std::move(m), &from);
            break;
        case MsgType::response:
            route_response(std::move(m));
            break;
        case MsgType::event:
            if (from.kind == Peer::Kind::parent)
                distribute_event(m);
            break;
        case MsgType::control:
            break;
    }
}

void Broker::route_request(Message&& m, Peer* from)
{
    uint32_t nodeid = m.nodeid();
    bool upstream = m.has_flag(msgflag::upstream);
    if (nodeid == NODEID_ANY || upstream) {
        if (!(upstream && nodeid == rank_)) {
            auto it = services_.find(std::string(m.service()));
            if (it != services_.end() && (it->second == nullptr || it->second != from)) {
                deliver(it->second, std::move(m));
                return;
            }
        }
        if (rank_ == 0) {
            respond_error(m, ENOSYS, fmt::format("No service matching {} is registered", m.topic));
            return;
        }
        if (auto r = overlay_->send_parent(std::move(m)); !r)
            log(3, "cannot forward request upstream: " + r.error().message());
        return;
    }
    if (nodeid == rank_) {
        auto it = services_.find(std::string(m.service()));
        if (it == services_.end()) {
            respond_error(m, ENOSYS, fmt::format("No service matching {} is registered", m.topic));
            return;
        }
        deliver(it->second, std::move(m));
        return;
    }
    if (nodeid >= size_) {
        respond_error(m, EHOSTUNREACH, fmt::format("rank {} is not in this instance (size {})", nodeid, size_));
        return;
    }
    (void)overlay_->send_toward(nodeid, std::move(m));
}

void Broker::deliver(Peer* to, Message&& m)
{
    if (!to) {
        deliver_builtin(std::move(m));
        return;
    }
    to->send(std::move(m));
}

void Broker::deliver_builtin(Message&& m)
{
    const auto& table = handler_table();
    auto it = table.find(m.topic);
    if (it == table.end()) {
        std::string_view t(m.topic);
        if (t.size() > 5 && t.substr(t.size() - 5) == ".ping") {
            ping(m);
            return;
        }
        respond_error(m, ENOSYS, fmt::format("Unknown method {}", m.topic));
        return;
    }
    if ((m.rolemask & it->second.rolemask) == 0) {
        respond_error(m, EPERM, fmt::format("{}: permission denied (instance owner only)", m.topic));
        return;
    }
    // Payloads come from peers: a field of the wrong type must cost the
    // sender an error, never the broker its life.
    try {
        (this->*(it->second.fn))(m);
    } catch (const std::exception& e) {
        respond_error(m, EPROTO, fmt::format("{}: malformed request: {}", m.topic, e.what()));
    }
}

void Broker::route_response(Message&& m)
{
    if (m.route.empty())
        return;
    std::string hop = std::move(m.route.back());
    m.route.pop_back();
    auto it = peers_.find(hop);
    if (it == peers_.end())
        return;  // requester went away
    it->second->send(std::move(m));
}

void Broker::respond(const Message& req, std::string payload)
{
    if (req.has_flag(msgflag::noresponse))
        return;
    route_response(Message::response_to(req, std::move(payload)));
}

void Broker::respond_error(const Message& req, int errnum, std::string text)
{
    if (req.has_flag(msgflag::noresponse))
        return;
    route_response(Message::error_to(req, errnum, std::move(text)));
}

// ---- events ------------------------------------------------------------------------

uint32_t Broker::publish(Message ev)
{
    ev.type = MsgType::event;
    ev.aux1 = ++event_seq_;
    ev.aux2 = 0;
    ev.route.clear();
    ev.has_route = false;
    distribute_event(ev);
    return ev.aux1;
}

void Broker::distribute_event(const Message& ev)
{
    if (rank_ != 0) {
        if (last_event_seq_ != 0 && ev.seq() != last_event_seq_ + 1)
            log(4, fmt::format("event: sequence gap: {} after {}", ev.seq(), last_event_seq_));
        last_event_seq_ = ev.seq();
    }
    overlay_->broadcast(ev);
    bool priv = ev.has_flag(msgflag::private_);
    for (auto& [id, p] : peers_) {
        if (p->kind != Peer::Kind::client && p->kind != Peer::Kind::module)
            continue;
        if (!p->subscribed(ev.topic))
            continue;
        if (priv && !(p->rolemask & role::owner) && p->userid != ev.userid)
            continue;
        p->send(Message(ev));
    }
}

// ---- logging -------------------------------------------------------------------------

void Broker::log(int level, std::string text, const std::string& name)
{
    if (level > log_level_)
        return;
    LogEntry e;
    e.timestamp = wall_now();
    e.level = level;
    e.rank = rank_;
    e.hostname = attrs_.get_or("hostname", "");
    e.name = name;
    e.message = std::move(text);
    bool forward = rank_ != 0 && level <= forward_level_ && overlay_ && overlay_->joined();
    if (level <= stderr_level_ && !forward)  // forwarded entries are printed by rank 0
        log_to_stderr(e);
    if (forward) {
        json j{{"level", level},         {"message", e.message},     {"name", e.name},   {"rank", rank_},
               {"hostname", e.hostname}, {"timestamp", e.timestamp}, {"forwarded", true}};
        // Addressed to rank 0 so brokers on the way pass it on untouched.
        Message fwd = Message::request("log.append", j.dump(-1, ' ', false, json::error_handler_t::replace), 0,
                                       msgflag::noresponse);
        fwd.userid = owner_;
        fwd.rolemask = role::owner;
        (void)overlay_->send_parent(std::move(fwd));
    }
    logbuf_.append(e);
    if (!dmesg_followers_.empty())
        dmesg_follow_push(logbuf_.entries().back());
}

}  // namespace flux::broker
