// flux module load|remove|reload|list: manage broker modules.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <flux/idset.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

namespace {

constexpr const char* CMD = "module";

void check(Handle& h, const std::string& topic, const json& req, uint32_t rank, const std::string& what)
{
    auto r = h.rpc(topic, req.dump(), rank).get();
    if (!r)
        die(CMD, fmt::format("{}: {}", what, r.error().message()));
}

}  // namespace

int module(int argc, char** argv)
{
    CLI::App app{"Manage broker modules", "flux module"};
    app.require_subcommand(1);
    uint32_t rank = NODEID_ANY;
    std::string name;
    std::vector<std::string> args;
    auto* load = app.add_subcommand("load", "Load module NAME (or a path) with optional ARGS");
    load->add_option("-r,--rank", rank, "Load on this broker rank");
    load->add_option("name", name, "Module name or path")->required();
    load->add_option("args", args, "Module arguments");
    auto* remove = app.add_subcommand("remove", "Unload module NAME");
    remove->alias("unload");
    remove->add_option("-r,--rank", rank, "Unload on this broker rank");
    remove->add_option("name", name, "Module name")->required();
    bool force = false;
    remove->add_flag("-f,--force", force, "Do not fail if the module is not loaded");
    auto* reload = app.add_subcommand("reload", "Unload and load module NAME");
    reload->add_option("-r,--rank", rank, "Reload on this broker rank");
    reload->add_option("name", name, "Module name or path")->required();
    reload->add_option("args", args, "Module arguments");
    auto* list = app.add_subcommand("list", "List loaded modules");
    list->alias("ls");
    list->add_option("-r,--rank", rank, "List modules on this rank");
    parse_or_exit(app, argc, argv, CMD);

    auto h = open_or_die(CMD);
    uint32_t target = rank == NODEID_ANY ? 0 : rank;
    if (rank == NODEID_ANY) {
        auto me = h->rank();
        target = me ? *me : 0;
    }
    if (load->parsed()) {
        check(*h, "module.load", json{{"path", name}, {"args", args}}, target, name);
    } else if (remove->parsed()) {
        auto r = h->rpc("module.remove", json{{"name", name}}.dump(), target).get();
        if (!r && !(force && r.error().errnum == ENOENT))
            die(CMD, fmt::format("{}: {}", name, r.error().message()));
    } else if (reload->parsed()) {
        std::string base = name.substr(name.rfind('/') + 1);
        if (base.ends_with(".so"))
            base.resize(base.size() - 3);
        auto r = h->rpc("module.remove", json{{"name", base}}.dump(), target).get();
        if (!r && r.error().errnum != ENOENT)
            die(CMD, fmt::format("{}: {}", base, r.error().message()));
        check(*h, "module.load", json{{"path", name}, {"args", args}}, target, name);
    } else {
        auto r = h->rpc("module.list", "{}", target).get();
        if (!r)
            die(CMD, r.error().message());
        auto j = json::parse(r->payload);
        fmt::print("{:<24} {:>4} {:<10} {}\n", "Module", "Idle", "State", "Service");
        for (const auto& m : j["mods"]) {
            std::string svcs;
            for (const auto& s : m["services"])
                svcs += (svcs.empty() ? "" : ",") + s.get<std::string>();
            fmt::print("{:<24} {:>4} {:<10} {}\n", m["name"].get<std::string>(), m["idle"].get<int>(),
                       m["state"].get<std::string>(), svcs);
        }
    }
    return 0;
}

}  // namespace flux::cmd
