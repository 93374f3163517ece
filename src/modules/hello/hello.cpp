// hello: the example module. Shows the shape of every module: state, request
// handlers, and the handler table at the bottom of the main file.
//
// Methods: hello.greet {"name":S} -> {"greeting":S,"rank":N}
//          hello.count            -> {"count":N}  (requests served so far)
//          hello.crash            -> throws (tests that a failing module is contained)
// Args:    "fail" makes start-up fail (tests load errors).
#include <stdexcept>

#include <nlohmann/json.hpp>

#include <flux/module.hpp>

namespace {

using json = nlohmann::json;

class Hello {
public:
    explicit Hello(flux::Handle& h) : h_(h) {}

    void greet(const flux::Message& m)
    {
        count_++;
        std::string name = "world";
        try {
            if (!m.payload.empty())
                name = json::parse(m.payload).value("name", name);
        } catch (const std::exception& e) {
            (void)h_.respond_error(m, EPROTO, std::string("hello.greet: ") + e.what());
            return;
        }
        auto rank = h_.rank();
        (void)h_.respond(m, json{{"greeting", "hello, " + name}, {"rank", rank ? *rank : 0}}.dump());
    }

    void count(const flux::Message& m)
    {
        count_++;
        (void)h_.respond(m, json{{"count", count_}}.dump());
    }

    [[noreturn]] void crash(const flux::Message&) { throw std::runtime_error("hello.crash was requested"); }

private:
    flux::Handle& h_;
    int count_ = 0;
};

int hello_main(flux::Handle& h, const std::vector<std::string>& args)
{
    for (const auto& a : args) {
        if (a == "fail") {
            h.log(3, "hello: failing start-up as asked");
            return -1;
        }
    }
    Hello hello(h);
    using flux::MsgType;
    struct Entry {
        const char* topic;
        void (Hello::*fn)(const flux::Message&);
        uint32_t roles;
    };
    static const Entry table[] = {
        {"hello.greet", &Hello::greet, flux::role::all},
        {"hello.count", &Hello::count, flux::role::all},
        {"hello.crash", &Hello::crash, flux::role::owner},
    };
    for (const auto& e : table)
        h.add_handler(MsgType::request, e.topic, [&hello, fn = e.fn](const flux::Message& m) { (hello.*fn)(m); }, e.roles);
    return h.reactor().run();
}

}  // namespace

FLUX_MODULE("hello", hello_main)
