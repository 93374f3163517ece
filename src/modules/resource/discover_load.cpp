// Load the hwloc discovery plugin for the length of one discovery.
#include <dlfcn.h>

#include "discover.hpp"
#include "libflux/paths.hpp"

namespace flux::resource {

Result<LocalResources> discover()
{
    std::string path = paths::prefix() + "/lib/flux/resource/discover.so";
    void* dso = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dso)
        return fail(ENOENT, std::string("cannot load hwloc discovery: ") + dlerror());
    using Fn = void (*)(Result<LocalResources>*);
    auto fn = reinterpret_cast<Fn>(dlsym(dso, "flux_resource_discover"));
    if (!fn) {
        dlclose(dso);
        return fail(ENOENT, path + ": no flux_resource_discover");
    }
    Result<LocalResources> out = fail(EINVAL, "hwloc discovery returned nothing");
    fn(&out);
    dlclose(dso);
    return out;
}

}  // namespace flux::resource
