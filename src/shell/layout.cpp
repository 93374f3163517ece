// Task layout and core-to-cpu mapping (see layout.hpp).
#include "layout.hpp"

#include <algorithm>
#include <fstream>
#include <map>

#include <fmt/format.h>

namespace flux::shell {

TaskMap TaskMap::block(const std::vector<std::uint32_t>& slots, std::uint32_t tasks_per_slot, std::uint32_t ntasks)
{
    TaskMap m;
    std::uint64_t nslots = 0;
    for (auto s : slots)
        nslots += s;
    std::uint64_t slot_index = 0;
    for (auto s : slots) {
        std::uint64_t n = 0;
        if (tasks_per_slot > 0) {
            n = static_cast<std::uint64_t>(s) * tasks_per_slot;
        } else if (nslots > 0) {
            for (std::uint32_t k = 0; k < s; k++, slot_index++)
                n += ntasks / nslots + (slot_index < ntasks % nslots ? 1 : 0);
        }
        m.first.push_back(m.total);
        m.count.push_back(static_cast<std::uint32_t>(n));
        m.total += static_cast<std::uint32_t>(n);
    }
    return m;
}

std::string TaskMap::pmi_process_mapping() const
{
    std::string out = "(vector";
    std::size_t i = 0;
    while (i < count.size()) {
        std::size_t j = i;
        while (j + 1 < count.size() && count[j + 1] == count[i])
            j++;
        out += fmt::format(",({},{},{})", i, j - i + 1, count[i]);
        i = j + 1;
    }
    return out + ")";
}

namespace {

int read_int(const std::string& path)
{
    std::ifstream in(path);
    int v = -1;
    in >> v;
    return in ? v : -1;
}

}  // namespace

namespace {

std::vector<std::vector<int>> read_core_cpus()
{
    // (package, core id) -> cpus
    std::map<std::pair<int, int>, std::vector<int>> cores;
    std::ifstream online("/sys/devices/system/cpu/online");
    std::string text;
    if (!(online >> text))
        return {};
    auto set = IdSet::parse(text);
    if (!set)
        return {};
    for (auto cpu : *set) {
        std::string base = fmt::format("/sys/devices/system/cpu/cpu{}/topology/", cpu);
        int pkg = read_int(base + "physical_package_id");
        int core = read_int(base + "core_id");
        cores[{pkg, core}].push_back(static_cast<int>(cpu));
    }
    std::vector<std::vector<int>> out;
    for (auto& [key, cpus] : cores)
        out.push_back(std::move(cpus));
    // hwloc orders cores by topology; within a package, by their cpus.
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.front() < b.front(); });
    return out;
}

}  // namespace

const std::vector<std::vector<int>>& core_cpus()
{
    static const std::vector<std::vector<int>> map = read_core_cpus();
    return map;
}

std::vector<int> cpus_of(const IdSet& cores, const std::vector<std::vector<int>>& map)
{
    std::vector<int> out;
    for (auto c : cores)
        if (c < map.size())
            out.insert(out.end(), map[c].begin(), map[c].end());
    return out;
}

}  // namespace flux::shell
