// Module SDK: how a broker module is written.
// Broker<->module protocol: doc/dev/modules.md.
//
// A module is a shared object the broker loads at run time (flux module
// load). It runs on its own thread with its own Handle and Reactor and talks
// to the rest of the system only by messages. Define it with FLUX_MODULE:
//
//   static int hello_main(flux::Handle& h, const std::vector<std::string>& args)
//   {
//       h.add_handler(flux::MsgType::request, "hello.greet", [&](const flux::Message& m) {
//           h.respond(m, R"({"greeting":"hi"})");
//       });
//       return h.reactor().run();   // returns when the broker unloads us
//   }
//   FLUX_MODULE("hello", hello_main)
//
// Contract:
// - The module's name is registered as a service; requests to NAME.* reach
//   it. NAME.ping is answered automatically. Register more services with
//   Handle::service_register().
// - The module is "running" once its reactor starts; `flux module load`
//   answers then. If main returns non-zero before that, the load fails.
// - On unload the broker stops the reactor; main should return promptly.
//   Requests still queued are answered with ENOSYS.
// - An exception escaping main is reported and the module is removed; the
//   broker stays up. Do not replace Handle::on_control().
#pragma once

#include <string>
#include <vector>

#include <flux/handle.hpp>

#define FLUX_MODULE(NAME, MAIN)                                                                                  \
    extern "C" __attribute__((visibility("default"))) const char flux_module_name[] = NAME;                      \
    extern "C" __attribute__((visibility("default"))) int flux_module_main(flux::Handle* h,                      \
                                                                           const std::vector<std::string>* args) \
    {                                                                                                            \
        return MAIN(*h, *args);                                                                                  \
    }
