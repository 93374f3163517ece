// flux-shell --zygote FD: fork job shells on request (see zygote.cpp).
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace flux::shell {

/// What a shell forked by the zygote gets besides its command line: its
/// broker connection, already made, and the request's "data" (job-exec's
/// jobspec and R for the job; null when the request had none).
struct Launch {
    int conn_fd = -1;
    const nlohmann::json* data = nullptr;
};

using ShellMain = int (*)(int argc, char** argv, const Launch* launch);

/// Serve shell requests on `sock` until it closes; each child runs
/// shell_main(argc, argv, launch) as a fresh flux-shell would (that one
/// gets a null launch), with the zygote's command line (argc, argv: its
/// own) rewritten to the shell's. Returns an exit code.
int zygote_main(int argc, char** argv, int sock, ShellMain shell_main);

}  // namespace flux::shell
