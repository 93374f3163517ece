// Test tool: connect a ZeroMQ DEALER to an overlay endpoint and send the
// given frames, to check that a broker drops malformed messages.
//
//   zmq-send ENDPOINT IDENTITY FRAME...   (a FRAME "hex:0a0b" is raw bytes)
#include <zmq.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "Usage: zmq-send ENDPOINT IDENTITY FRAME...\n");
        return 2;
    }
    void* ctx = zmq_ctx_new();
    void* s = zmq_socket(ctx, ZMQ_DEALER);
    std::string id = argv[2];
    zmq_setsockopt(s, ZMQ_ROUTING_ID, id.data(), id.size());
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_connect(s, argv[1]) < 0) {
        std::fprintf(stderr, "zmq-send: connect %s: %s\n", argv[1], zmq_strerror(errno));
        return 1;
    }
    for (int i = 3; i < argc; i++) {
        std::string f = argv[i];
        if (f.rfind("hex:", 0) == 0) {
            std::string bytes;
            for (size_t k = 4; k + 1 < f.size(); k += 2)
                bytes.push_back(static_cast<char>(std::stoi(f.substr(k, 2), nullptr, 16)));
            f = bytes;
        }
        zmq_send(s, f.data(), f.size(), i + 1 < argc ? ZMQ_SNDMORE : 0);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);  // waits (up to the linger) for the frames to leave
    return 0;
}
