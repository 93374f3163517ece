// flux-shell --zygote FD: fork job shells on request (see zygote.cpp).
#pragma once

namespace flux::shell {

/// Serve shell requests on `sock` until it closes; each child runs
/// shell_main(argc, argv) as a fresh flux-shell would, with the zygote's
/// command line (argc, argv: its own) rewritten to the shell's.
/// Returns an exit code.
int zygote_main(int argc, char** argv, int sock, int (*shell_main)(int, char**));

}  // namespace flux::shell
