// Test tool: send one request and print the response payload.
//
//   rpc [-r RANK] [-s COUNT] TOPIC [PAYLOAD]
// Exits 0 on success; on an error response prints "errnum: text" to stderr
// and exits with 1. With -s, sends a streaming request and prints COUNT
// responses, one per line, flushing each (so a test can act between them).
#include <cstdio>
#include <cstdlib>
#include <string>

#include <flux/handle.hpp>

int main(int argc, char** argv)
{
    uint32_t nodeid = flux::NODEID_ANY;
    int stream = 0;
    int i = 1;
    while (i + 1 < argc && argv[i][0] == '-') {
        std::string o = argv[i];
        if (o == "-r")
            nodeid = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
        else if (o == "-s")
            stream = std::atoi(argv[i + 1]);
        else
            break;
        i += 2;
    }
    if (i >= argc) {
        std::fprintf(stderr, "Usage: rpc [-r RANK] TOPIC [PAYLOAD]\n");
        return 2;
    }
    std::string topic = argv[i++];
    std::string payload = i < argc ? argv[i] : "";
    auto h = flux::Handle::open();
    if (!h) {
        std::fprintf(stderr, "rpc: %s\n", h.error().message().c_str());
        return 1;
    }
    if (stream > 0) {
        auto f = (*h)->rpc(topic, payload, nodeid, flux::msgflag::streaming);
        for (int n = 0; n < stream; n++) {
            auto r = f.get(30);
            if (!r) {
                std::fprintf(stderr, "%d: %s\n", r.error().errnum, r.error().message().c_str());
                return 1;
            }
            std::printf("%s\n", r->payload.c_str());
            std::fflush(stdout);
            f.reset();
        }
        return 0;
    }
    auto r = (*h)->rpc(topic, payload, nodeid).get(30);
    if (!r) {
        std::fprintf(stderr, "%d: %s\n", r.error().errnum, r.error().message().c_str());
        return 1;
    }
    std::printf("%s\n", r->payload.c_str());
    return 0;
}
