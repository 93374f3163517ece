// Driver for fuzz targets without libFuzzer (g++ builds): replays files, or runs generated and mutated inputs.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <flux/message.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Rng = std::mt19937_64;

size_t pick(Rng& rng, size_t n)
{
    return static_cast<size_t>(rng() % n);
}

std::string random_bytes(Rng& rng, size_t max)
{
    std::string s(pick(rng, max + 1), '\0');
    for (auto& c : s)
        c = static_cast<char>(rng());
    return s;
}

flux::Message random_message(Rng& rng)
{
    static const uint8_t types[] = {0x01, 0x02, 0x04, 0x08, 0x00, 0x03};
    flux::Message m;
    m.type = static_cast<flux::MsgType>(types[pick(rng, std::size(types))]);
    m.flags = static_cast<uint8_t>(rng());
    m.userid = static_cast<uint32_t>(rng());
    m.rolemask = static_cast<uint32_t>(rng());
    m.aux1 = static_cast<uint32_t>(rng());
    m.aux2 = static_cast<uint32_t>(rng());
    if (pick(rng, 4) != 0)
        m.topic = random_bytes(rng, 20);
    if (pick(rng, 2) != 0)
        m.set_payload(random_bytes(rng, pick(rng, 4) == 0 ? 600 : 40));
    m.has_route = pick(rng, 2) != 0;
    for (size_t i = pick(rng, 4); i > 0; i--)
        m.route.push_back(random_bytes(rng, 6));
    return m;
}

// Valid-looking input in one of the two shapes the target reads.
std::string structured(Rng& rng)
{
    std::string out;
    if (pick(rng, 2) == 0) {
        out.push_back(static_cast<char>(rng()));  // the target's split byte
        for (size_t i = pick(rng, 3) + 1; i > 0; i--)
            flux::encode_stream(random_message(rng), out);
    } else {
        for (const auto& f : flux::encode_frames(random_message(rng))) {
            size_t n = std::min<size_t>(f.size(), 255);
            out.push_back(static_cast<char>(n));
            out.append(f, 0, n);
        }
    }
    return out;
}

void mutate(Rng& rng, std::string& s)
{
    static const uint32_t interesting[] = {0,          1, 3, 20, 255, 256, 0xffffffffu, (256u << 20), (256u << 20) + 1,
                                           0x7fffffffu};
    for (size_t k = pick(rng, 4); k > 0; k--) {
        size_t at = s.empty() ? 0 : pick(rng, s.size());
        switch (pick(rng, 5)) {
            case 0:
                if (!s.empty())
                    s[at] = static_cast<char>(s[at] ^ (1 << pick(rng, 8)));
                break;
            case 1:
                s.insert(at, 1, static_cast<char>(rng()));
                break;
            case 2:
                if (!s.empty())
                    s.erase(at, 1 + pick(rng, 4));
                break;
            case 3:
                s.resize(at);
                break;
            case 4: {
                if (pick(rng, 2) == 0)
                    at = 5;  // the first stream length field (after the split byte and magic)
                uint32_t v = interesting[pick(rng, std::size(interesting))];
                for (int i = 0; i < 4 && at + static_cast<size_t>(i) < s.size(); i++)
                    s[at + static_cast<size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
                break;
            }
        }
    }
}

int run(const std::string& input)
{
    return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv)
{
    unsigned long count = 200000;
    unsigned long seed = std::random_device{}();
    std::vector<std::string> files;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            count = std::strtoul(argv[++i], nullptr, 10);
        else if (std::strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            seed = std::strtoul(argv[++i], nullptr, 10);
        else
            files.emplace_back(argv[i]);
    }
    if (!files.empty()) {
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            if (!in) {
                std::fprintf(stderr, "cannot read %s\n", f.c_str());
                return 1;
            }
            run(std::string(std::istreambuf_iterator<char>(in), {}));
        }
        std::printf("replayed %zu file(s)\n", files.size());
        return 0;
    }
    std::printf("seed %lu, %lu inputs\n", seed, count);
    std::fflush(stdout);
    Rng rng(seed);
    for (unsigned long i = 0; i < count; i++) {
        std::string input = pick(rng, 4) == 0 ? random_bytes(rng, 600) : structured(rng);
        if (pick(rng, 3) != 0)
            mutate(rng, input);
        run(input);
    }
    std::printf("done: %lu inputs, no crash\n", count);
    return 0;
}
