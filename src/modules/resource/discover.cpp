// hwloc discovery of cores and GPUs. Built as a plugin of its own
// (lib/flux/resource/discover.so) that the resource module loads only while
// it discovers, so that hwloc and the libraries it pulls in (udev, ...) are
// not kept in every broker's memory for the life of the instance.
#include "discover.hpp"

#include <glob.h>
#include <hwloc.h>

#include <cstdlib>
#include <set>

namespace flux::resource {

namespace {

bool may_have_gpus()
{
    // A topology loaded from an XML file (HWLOC_XMLFILE, hwloc's own
    // variable) describes some other node: scan its I/O devices.
    if (const char* xml = std::getenv("HWLOC_XMLFILE"); xml && *xml)
        return true;
    for (const char* pat : {"/dev/nvidia[0-9]*", "/dev/dri/renderD*", "/dev/kfd"}) {
        glob_t g;
        int rc = glob(pat, 0, nullptr, &g);
        size_t n = rc == 0 ? g.gl_pathc : 0;
        globfree(&g);
        if (n > 0)
            return true;
    }
    return false;
}

// A GPU shows up as several OS devices (cuda0, nvml0, opencl0d0, rsmi0...):
// count the distinct PCI devices behind them.
uint32_t count_gpus(hwloc_topology_t topo)
{
    std::set<hwloc_obj_t> pcidevs;
    size_t orphans = 0;
    for (hwloc_obj_t o = hwloc_get_next_osdev(topo, nullptr); o; o = hwloc_get_next_osdev(topo, o)) {
        auto t = o->attr->osdev.type;
        if (t != HWLOC_OBJ_OSDEV_GPU && t != HWLOC_OBJ_OSDEV_COPROC)
            continue;
        std::string name = o->name ? o->name : "";
        // Display outputs (card0, controlD64) are not compute devices.
        if (t == HWLOC_OBJ_OSDEV_GPU &&
            (name.rfind("card", 0) == 0 || name.rfind("controlD", 0) == 0 || name.rfind("renderD", 0) == 0))
            continue;
        hwloc_obj_t p = o->parent;
        while (p && p->type != HWLOC_OBJ_PCI_DEVICE)
            p = p->parent;
        if (p)
            pcidevs.insert(p);
        else
            orphans++;
    }
    return static_cast<uint32_t>(pcidevs.size() + (pcidevs.empty() ? orphans : 0));
}

}  // namespace

Result<LocalResources> discover_hwloc()
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) < 0)
        return fail(errno, "hwloc_topology_init failed");
    bool gpus = may_have_gpus();
    hwloc_topology_set_io_types_filter(topo, gpus ? HWLOC_TYPE_FILTER_KEEP_IMPORTANT : HWLOC_TYPE_FILTER_KEEP_NONE);
    if (hwloc_topology_load(topo) < 0) {
        hwloc_topology_destroy(topo);
        return fail(errno, "hwloc_topology_load failed");
    }
    LocalResources out;
    int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    if (ncores <= 0)
        ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    if (ncores > 0)
        (void)out.cores.insert_range(0, static_cast<uint32_t>(ncores - 1));
    uint32_t ngpus = gpus ? count_gpus(topo) : 0;
    if (ngpus > 0)
        (void)out.gpus.insert_range(0, ngpus - 1);
    hwloc_topology_destroy(topo);
    return out;
}

}  // namespace flux::resource

extern "C" void flux_resource_discover(flux::Result<flux::resource::LocalResources>* out)
{
    *out = flux::resource::discover_hwloc();
}
