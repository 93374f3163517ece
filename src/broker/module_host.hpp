// Loads broker modules: one thread, handle and reactor each, joined to the
// broker by a ZeroMQ inproc PAIR socket. Protocol: doc/dev/modules.md.
#pragma once

#include <deque>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <flux/error.hpp>
#include <flux/message.hpp>

namespace flux::broker {

class Broker;

/// Control message types between the broker and a module.
enum ModuleCtl : uint32_t {
    modctl_shutdown = 100,  // broker -> module: stop your reactor
    modctl_status = 101,    // module -> broker: status (see ModuleStatus), text in payload
};
enum ModuleStatus : uint32_t { modstatus_running = 1, modstatus_exited = 2, modstatus_failed = 3 };

class ModuleHost {
public:
    explicit ModuleHost(Broker& b);
    ~ModuleHost();

    /// Start loading; `req` (if any) is answered when the module runs or fails.
    void load(const std::string& name_or_path, std::vector<std::string> args, const Message* req);
    /// Unload; `req` is answered once the module thread has finished.
    void remove(const std::string& name, const Message* req);
    /// JSON array describing the loaded modules.
    std::string list_json() const;
    /// Load the modules named by the broker.modules attribute (comma
    /// separated); `done` runs once all are running, or with the first error.
    void load_startup_modules(std::function<void(const Result<void>&)> done);
    /// Stop every module, waiting up to `timeout` seconds for each thread
    /// (broker shutdown). One that does not stop is abandoned.
    void unload_all(double timeout = 10);
    /// True if a module had to be abandoned: the process must then exit
    /// without tearing down shared state the module may still touch.
    bool abandoned() const { return abandoned_; }
    /// Where NAME resolves: FLUX_MODULE_PATH entries, then the module dir.
    Result<std::string> resolve(const std::string& name_or_path) const;

    class Module;

private:
    void finished(Module& m);
    Broker& broker_;
    std::map<std::string, std::unique_ptr<Module>> modules_;
    uint64_t seq_ = 0;
    std::deque<std::string> startup_queue_;
    std::string startup_current_;
    std::function<void(const Result<void>&)> startup_done_;
    void startup_status(const std::string& name, bool ok, const std::string& text);
    void load_next_startup();
    bool abandoned_ = false;
    friend class Module;
};

}  // namespace flux::broker
