// Local resource discovery with hwloc: the cores and GPUs of this node.
#pragma once

#include <string>

#include <flux/error.hpp>
#include <flux/idset.hpp>

namespace flux::resource {

struct LocalResources {
    IdSet cores;  // logical core indexes 0..n-1
    IdSet gpus;   // 0..n-1, one per GPU device
};

/// Discover this node. GPU discovery (which needs hwloc's slow I/O scan) is
/// done only when the node shows signs of having GPUs (/dev/nvidia*,
/// /dev/dri/renderD*, /dev/kfd) or when hwloc is told to load its topology
/// from an XML file (HWLOC_XMLFILE).
Result<LocalResources> discover();

}  // namespace flux::resource
