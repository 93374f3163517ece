// flux event pub|sub: publish events, or print events as they arrive.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

int event(int argc, char** argv)
{
    CLI::App app{"Publish and subscribe to events", "flux event"};
    app.require_subcommand(1);
    std::string topic;
    std::vector<std::string> words;
    bool priv = false;
    auto* pub = app.add_subcommand("pub", "Publish an event with an optional payload");
    pub->add_flag("-p,--private", priv, "Only the instance owner and you may see it");
    pub->add_option("topic", topic, "Event topic")->required();
    pub->add_option("payload", words, "Payload (JSON object or text)");
    int count = -1;
    bool raw = false;
    std::vector<std::string> topics;
    auto* sub = app.add_subcommand("sub", "Print events matching topic prefixes");
    sub->add_option("-c,--count", count, "Exit after COUNT events")->check(CLI::PositiveNumber);
    sub->add_flag("-r,--raw", raw, "Print only the payload");
    sub->add_option("topic", topics, "Topic prefixes (default: all)");
    parse_or_exit(app, argc, argv, "event");

    auto h = open_or_die("event");
    if (pub->parsed()) {
        std::string payload = fmt::format("{}", fmt::join(words, " "));
        if (!payload.empty() && payload[0] == '{') {
            try {
                auto j = json::parse(payload);
                payload = j.dump();
            } catch (const std::exception& e) {
                die("event", fmt::format("payload is not valid JSON: {}", e.what()));
            }
        }
        auto seq = h->publish(topic, payload, priv ? msgflag::private_ : 0);
        if (!seq)
            die("event", fmt::format("{}: {}", topic, seq.error().message()));
        return 0;
    }
    if (topics.empty())
        topics.push_back("");
    int seen = 0;
    h->add_handler(MsgType::event, "*", [&](const Message& m) {
        if (raw)
            fmt::print("{}\n", m.payload);
        else if (m.payload.empty())
            fmt::print("{}\n", m.topic);
        else
            fmt::print("{}\t{}\n", m.topic, m.payload);
        std::fflush(stdout);
        if (count > 0 && ++seen >= count)
            h->reactor().stop(0);
    });
    for (const auto& t : topics) {
        if (auto r = h->subscribe(t); !r)
            die("event", fmt::format("subscribe {}: {}", t, r.error().message()));
    }
    // Tell a waiting test that the subscription is in place.
    if (const char* ready = getenv("FLUX_EVENT_SUB_READY"))
        fmt::print(stderr, "{}\n", ready);
    h->on_disconnect([&](const Error& e) { die("event", e.message()); });
    h->reactor().run();
    return 0;
}

}  // namespace flux::cmd
