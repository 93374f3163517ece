// flux getattr / setattr / lsattr: broker attributes.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

int getattr(int argc, char** argv)
{
    std::string name;
    CLI::App app{"Get the value of a broker attribute", "flux getattr"};
    app.add_option("name", name, "Attribute name")->required();
    parse_or_exit(app, argc, argv, "getattr");
    auto h = open_or_die("getattr");
    auto v = h->getattr(name);
    if (!v)
        die("getattr", fmt::format("{}: {}", name, v.error().message()));
    fmt::print("{}\n", *v);
    return 0;
}

int setattr(int argc, char** argv)
{
    std::string name, value;
    CLI::App app{"Set the value of a broker attribute", "flux setattr"};
    app.add_option("name", name, "Attribute name")->required();
    app.add_option("value", value, "New value")->required();
    parse_or_exit(app, argc, argv, "setattr");
    auto h = open_or_die("setattr");
    auto r = h->rpc("attr.set", json{{"name", name}, {"value", value}}.dump()).get();
    if (!r)
        die("setattr", fmt::format("{}: {}", name, r.error().message()));
    return 0;
}

int lsattr(int argc, char** argv)
{
    bool values = false;
    CLI::App app{"List broker attributes", "flux lsattr"};
    app.add_flag("-v,--values", values, "Show values too");
    parse_or_exit(app, argc, argv, "lsattr");
    auto h = open_or_die("lsattr");
    auto r = h->rpc("attr.list", "{}").get();
    if (!r)
        die("lsattr", r.error().message());
    auto j = json::parse(r->payload);
    size_t width = 0;
    for (const auto& n : j["names"])
        width = std::max(width, n.get<std::string>().size());
    for (const auto& n : j["names"]) {
        std::string name = n.get<std::string>();
        if (values)
            fmt::print("{:<{}} {}\n", name, width, j["values"].value(name, "-"));
        else
            fmt::print("{}\n", name);
    }
    return 0;
}

}  // namespace flux::cmd
