// argv/envp arrays for exec and posix_spawn.
#pragma once

#include <string>
#include <vector>

namespace flux {

/// Pointers to the strings of `v`, then a null pointer: what execve and
/// posix_spawn take. `v` must outlive the result and not change meanwhile.
inline std::vector<char*> c_strings(std::vector<std::string>& v)
{
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace flux
