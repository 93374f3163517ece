// Module threads: dlopen, start, status, unload handshake.
#include "module_host.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <sys/stat.h>
#include <zmq.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/handle.hpp>

#include "broker.hpp"
#include "libflux/paths.hpp"
#include "libflux/zmqutil.hpp"

namespace flux::broker {

using json = nlohmann::json;
using ModuleMain = int (*)(flux::Handle*, const std::vector<std::string>*);

namespace {

void close_zsock(void* s)
{
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(s);
}

// Runs on the module's thread: set up the handle, run main, report status,
// answer whatever was still queued.
void module_thread(void* zsock, std::string name, ModuleMain main, std::vector<std::string> args)
{
    // Module threads must not take the broker's signals.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    // Named after the module, so top -H, perf and gdb tell them apart.
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());

    auto status = [](uint32_t st, std::string text) {
        Message m = Message::control(modctl_status, st);
        if (!text.empty())
            m.set_payload(std::move(text));
        return m;
    };
    Handle h(connector_from_zmq(zsock));
    h.set_log_name(name);
    h.on_control([&h](const Message& m) {
        if (m.aux1 == modctl_shutdown)
            h.reactor().stop(0);
    });
    h.add_handler(
        MsgType::request, name + ".ping",
        [&h](const Message& m) {
            json out = json::object();
            try {
                if (m.has_payload && !m.payload.empty())
                    out = json::parse(m.payload);
            } catch (...) {
            }
            out["route"] = m.route_string();
            (void)h.respond(m, out.dump());
        },
        role::all);
    // "Running" means main has set up and entered its reactor.
    h.reactor().on_run([&] { (void)h.send(status(modstatus_running, "")); });
    int rc = -1;
    std::string err;
    try {
        rc = main(&h, &args);
        if (rc != 0)
            err = fmt::format("module main returned {}", rc);
    } catch (const std::exception& e) {
        err = fmt::format("uncaught exception: {}", e.what());
    } catch (...) {
        err = "uncaught exception";
    }
    // Answer requests that will never be handled now.
    h.reactor().stop(0);
    h.clear_handlers();  // they may capture main's locals, gone now
    h.add_handler(
        MsgType::request, "*", [&h](const Message& m) { (void)h.respond_error(m, ENOSYS, "module is unloading"); },
        role::all);
    h.dispatch_pending();
    (void)h.send(status(err.empty() ? modstatus_exited : modstatus_failed, err));
}

}  // namespace

class ModuleHost::Module : public Peer {
public:
    Module(ModuleHost& host, std::string n, std::string p, void* dl, void* zs)
        : Peer(Kind::module, n), host_(host), name_(std::move(n)), path_(std::move(p)), dl_(dl), zsock_(zs)
    {
        userid = host.broker_.owner();
        rolemask = role::owner;
    }
    ~Module() override
    {
        w_.reset();
        if (thread_.joinable())
            thread_.join();
        close_zsock(zsock_);
        if (dl_)
            dlclose(dl_);
    }

    void send(Message&& m) override { (void)zmqutil::send(zsock_, m); }

    void start(ModuleMain main, std::vector<std::string> args, void* peer_sock)
    {
        args_ = args;
        w_ = host_.broker_.reactor().zmq(zsock_, [this] { on_message(); });
        thread_ = std::thread(module_thread, peer_sock, name_, main, std::move(args));
        last_seen_ = host_.broker_.reactor().now();
    }

    void on_message()
    {
        Broker& b = host_.broker_;
        for (int i = 0; i < 256; i++) {
            auto f = zmqutil::recv_frames(zsock_);
            if (!f || !*f)
                return;
            auto m = zmqutil::decode(**f);
            if (!m)
                continue;
            last_seen_ = b.reactor().now();
            if (m->is_control()) {
                if (m->aux1 == modctl_status && status(m->aux2, m->payload))
                    return;  // this module is being destroyed
                continue;
            }
            if (m->userid == USERID_UNKNOWN) {
                m->userid = userid;
                m->rolemask = role::owner;
            } else if (m->rolemask == role::none) {
                m->rolemask = role::user;
            }
            if (m->is_request() || m->is_response())
                b.receive(*this, std::move(*m));
        }
    }

    // Returns true when the module is finished (and about to be destroyed).
    bool status(uint32_t st, const std::string& text)
    {
        Broker& b = host_.broker_;
        if (st == modstatus_running) {
            state_ = "running";
            for (auto& r : load_reqs_)
                b.respond(r);
            load_reqs_.clear();
            b.log(7, fmt::format("module {} running", name_));
            host_.startup_status(name_, true, "");
            return false;
        }
        state_ = "exited";
        if (st == modstatus_failed)
            b.log(3, fmt::format("module {} failed: {}", name_, text), name_);
        else
            b.log(7, fmt::format("module {} exited", name_));
        for (auto& r : load_reqs_)
            b.respond_error(r, ECANCELED,
                            fmt::format("module {} failed to start: {}", name_, text.empty() ? "exited" : text));
        load_reqs_.clear();
        exit_text_ = text;
        std::string name = name_;
        host_.finished(*this);  // destroys this (deferred)
        host_.startup_status(name, false, text);
        return true;
    }

    ModuleHost& host_;
    std::string name_, path_;
    void* dl_;
    void* zsock_;
    std::thread thread_;
    WatcherPtr w_;
    std::string state_ = "loading";
    std::string exit_text_;
    double last_seen_ = 0;
    std::vector<std::string> args_;
    std::vector<Message> load_reqs_, remove_reqs_;
};

ModuleHost::ModuleHost(Broker& b) : broker_(b) {}

ModuleHost::~ModuleHost()
{
    unload_all();
}

Result<std::string> ModuleHost::resolve(const std::string& name) const
{
    if (name.find('/') != std::string::npos)
        return name;
    std::vector<std::string> dirs;
    if (const char* env = getenv("FLUX_MODULE_PATH")) {
        std::string s = env;
        size_t start = 0;
        while (start <= s.size()) {
            size_t colon = s.find(':', start);
            std::string d = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            if (!d.empty())
                dirs.push_back(d);
            if (colon == std::string::npos)
                break;
            start = colon + 1;
        }
    }
    dirs.push_back(paths::module_dir());
    for (const auto& d : dirs) {
        std::string p = d + "/" + name + ".so";
        struct stat st;
        if (stat(p.c_str(), &st) == 0)
            return p;
    }
    return fail(ENOENT, fmt::format("module '{}' not found in module path", name));
}

void ModuleHost::load(const std::string& name_or_path, std::vector<std::string> args, const Message* req)
{
    auto reply_err = [&](int e, const std::string& text) {
        if (req)  // the requester is told; the log keeps a quiet note
            broker_.respond_error(*req, e, text);
        broker_.log(req ? 7 : 3, text);
        startup_status(name_or_path, false, text);
    };
    auto path = resolve(name_or_path);
    if (!path) {
        reply_err(path.error().errnum, path.error().text);
        return;
    }
    void* dl = dlopen(path->c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char* e = dlerror();
        reply_err(ENOENT, fmt::format("cannot load module {}: {}", *path, e ? e : "dlopen failed"));
        return;
    }
    auto main = reinterpret_cast<ModuleMain>(dlsym(dl, "flux_module_main"));
    auto name_sym = static_cast<const char*>(dlsym(dl, "flux_module_name"));
    if (!main) {
        dlclose(dl);
        reply_err(EINVAL, fmt::format("{}: not a module (no flux_module_main)", *path));
        return;
    }
    std::string name;
    if (name_sym) {
        name = name_sym;
    } else {
        name = path->substr(path->rfind('/') + 1);
        if (name.size() > 3 && name.ends_with(".so"))
            name.resize(name.size() - 3);
    }
    // Module names share the route-hop namespace with ranks ("3") and
    // clients ("c12"): refuse names that look like either.
    bool looks_like_client =
        name.size() > 1 && name[0] == 'c' && name.find_first_not_of("0123456789", 1) == std::string::npos;
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) || name.find('.') != std::string::npos ||
        looks_like_client) {
        dlclose(dl);
        reply_err(EINVAL, fmt::format("invalid module name '{}'", name));
        return;
    }
    if (name_or_path == startup_current_)
        startup_current_ = name;  // it reports under its own name
    if (modules_.contains(name)) {
        dlclose(dl);
        reply_err(EEXIST, fmt::format("module {} is already loaded", name));
        return;
    }
    void* ctx = broker_.zctx();
    std::string ep = fmt::format("inproc://module-{}-{}", name, ++seq_);
    void* mine = zmq_socket(ctx, ZMQ_PAIR);
    void* theirs = zmq_socket(ctx, ZMQ_PAIR);
    int hwm = 0;
    for (void* s : {mine, theirs}) {
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    }
    zmq_bind(mine, ep.c_str());
    zmq_connect(theirs, ep.c_str());
    auto mod = std::make_unique<Module>(*this, name, *path, dl, mine);
    if (auto r = broker_.service_add(name, mod.get()); !r) {
        close_zsock(theirs);
        reply_err(r.error().errnum, r.error().text);
        return;
    }
    broker_.add_peer(*mod);
    if (req)
        mod->load_reqs_.push_back(*req);
    Module& m = *mod;
    modules_.emplace(name, std::move(mod));
    m.start(main, std::move(args), theirs);
}

void ModuleHost::remove(const std::string& name, const Message* req)
{
    auto it = modules_.find(name);
    if (it == modules_.end()) {
        if (req)
            broker_.respond_error(*req, ENOENT, fmt::format("module {} is not loaded", name));
        return;
    }
    Module& m = *it->second;
    if (req)
        m.remove_reqs_.push_back(*req);
    m.state_ = "finalizing";
    m.send(Message::control(modctl_shutdown, 0));
}

void ModuleHost::finished(Module& m)
{
    broker_.remove_peer(m);
    auto reqs = std::move(m.remove_reqs_);
    auto it = modules_.find(m.name_);
    if (it == modules_.end())
        return;
    auto doomed = std::shared_ptr<Module>(it->second.release());
    modules_.erase(it);
    for (auto& r : reqs)
        broker_.respond(r);
    // Destroy (join the thread) outside the module's own callback.
    broker_.reactor().defer([doomed] {});
}

std::string ModuleHost::list_json() const
{
    json a = json::array();
    double now = broker_.reactor().now();
    for (const auto& [name, m] : modules_) {
        json svcs = json::array();
        svcs.push_back(name);
        a.push_back({{"name", name},
                     {"path", m->path_},
                     {"idle", static_cast<int>(now - m->last_seen_)},
                     {"state", m->state_},
                     {"services", svcs}});
    }
    return a.dump();
}

void ModuleHost::load_startup_modules(std::function<void(const Result<void>&)> done)
{
    // "a,b@0,c": b loads on rank 0 only. Modules load one after another,
    // each once the previous one runs, so a module may rely on those
    // before it (sched-simple says hello to job-manager as it starts).
    std::string list = broker_.attrs().get_or("broker.modules", "");
    std::vector<std::string> names;
    size_t start = 0;
    while (start < list.size()) {
        size_t comma = list.find(',', start);
        std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (auto at = name.find('@'); at != std::string::npos) {
            bool here = name.substr(at + 1) == std::to_string(broker_.rank());
            name.resize(at);
            if (!here)
                name.clear();
        }
        if (!name.empty())
            names.push_back(name);
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    for (const auto& n : names) {
        if (auto p = resolve(n); !p) {
            done(std::unexpected(p.error()));
            return;
        }
    }
    if (names.empty()) {
        done({});
        return;
    }
    startup_done_ = std::move(done);
    startup_queue_.assign(names.begin(), names.end());
    load_next_startup();
}

void ModuleHost::load_next_startup()
{
    if (startup_queue_.empty()) {
        auto done = std::move(startup_done_);
        startup_done_ = nullptr;
        if (done)
            done({});
        return;
    }
    startup_current_ = startup_queue_.front();
    startup_queue_.pop_front();
    load(startup_current_, {}, nullptr);
}

void ModuleHost::startup_status(const std::string& name_ref, bool ok, const std::string& text)
{
    std::string name = name_ref;  // may refer to startup_current_, cleared below
    if (!startup_done_ || name != startup_current_)
        return;
    if (!ok) {
        auto done = std::move(startup_done_);
        startup_done_ = nullptr;
        startup_queue_.clear();
        startup_current_.clear();
        done(fail(ECANCELED, fmt::format("module {} failed to start: {}", name, text.empty() ? "exited" : text)));
        return;
    }
    startup_current_.clear();
    load_next_startup();
}

void ModuleHost::unload_all(double timeout)
{
    // Ask them all at once, then wait for each (bounded) in turn.
    for (auto& [name, m] : modules_)
        m->send(Message::control(modctl_shutdown, 0));
    while (!modules_.empty()) {
        auto it = modules_.begin();
        Module& m = *it->second;
        m.w_.reset();
        bool exited = false;
        double deadline = broker_.reactor().now() + timeout;
        while (!exited) {
            broker_.reactor().update_time();
            double left = deadline - broker_.reactor().now();
            if (left <= 0)
                break;
            zmqutil::touch(m.zsock_);  // the reactor must look at it again
            zmq_pollitem_t item = {m.zsock_, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&item, 1, static_cast<long>(left * 1000) + 1) <= 0)
                continue;
            auto f = zmqutil::recv_frames(m.zsock_);
            if (!f || !*f)
                continue;
            auto msg = zmqutil::decode(**f);
            if (!msg)
                continue;
            if (msg->is_control() && msg->aux1 == modctl_status && msg->aux2 != modstatus_running) {
                exited = true;
            } else if (msg->is_request() || msg->is_response()) {
                // Keep serving it: it may be waiting on an answer before it
                // can see that it should stop.
                if (msg->userid == USERID_UNKNOWN) {
                    msg->userid = m.userid;
                    msg->rolemask = role::owner;
                }
                broker_.receive(m, std::move(*msg));
            }
        }
        broker_.remove_peer(m);
        if (!exited) {
            broker_.log(2, fmt::format("module {} did not stop within {:.0f}s; abandoning it", m.name_, timeout));
            m.thread_.detach();
            abandoned_ = true;
            (void)it->second.release();  // its thread may still use it
        }
        modules_.erase(it);
    }
}

}  // namespace flux::broker
