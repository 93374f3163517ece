// Install-relative paths.
#include "paths.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

namespace flux::paths {

namespace {
std::string dirname(const std::string& p)
{
    auto pos = p.rfind('/');
    return pos == std::string::npos ? std::string(".") : (pos == 0 ? std::string("/") : p.substr(0, pos));
}
}  // namespace

std::string prefix()
{
    static const std::string cached = [] {
        Dl_info info = {};
        if (dladdr(reinterpret_cast<void*>(&prefix), &info) == 0 || !info.dli_fname)
            return std::string("/usr/local");
        char buf[PATH_MAX];
        std::string lib = realpath(info.dli_fname, buf) ? std::string(buf) : std::string(info.dli_fname);
        return dirname(dirname(lib));
    }();
    return cached;
}

std::string libexec_dir()
{
    return prefix() + "/libexec/flux";
}

std::string module_dir()
{
    return prefix() + "/lib/flux/modules";
}

std::string broker_path()
{
    return libexec_dir() + "/flux-broker";
}

}  // namespace flux::paths
