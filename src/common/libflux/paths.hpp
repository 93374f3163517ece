// Where the installed (or built) pieces live, found relative to libflux-core
// itself so an installed tree is relocatable and the build tree works as is.
#pragma once

#include <string>

namespace flux::paths {

/// The prefix: the directory above the one holding libflux-core.so.
std::string prefix();
/// PREFIX/libexec/flux: the broker, the shell, flux-CMD helpers.
std::string libexec_dir();
/// PREFIX/lib/flux/modules: broker modules.
std::string module_dir();
/// PREFIX/libexec/flux/flux-broker.
std::string broker_path();

}  // namespace flux::paths
