// Driver for fuzz targets without libFuzzer (g++ builds): runs every seed
// file of a corpus directory, then random mutations of them (bit flips, byte
// and block insertions, deletions, duplications, splices of two seeds).
// Usage: DRIVER [-n COUNT] [-s SEED] DIR...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Rng = std::mt19937_64;

size_t pick(Rng& rng, size_t n)
{
    return n == 0 ? 0 : static_cast<size_t>(rng() % n);
}

// Characters the text parsers treat specially, so that mutations reach
// their branches more often than random bytes would.
constexpr std::string_view special = "[]{},-:.\"\\'#\n 0123456789eExfFƒ";

void mutate(Rng& rng, std::string& s, const std::vector<std::string>& seeds)
{
    for (size_t k = pick(rng, 6) + 1; k > 0; k--) {
        // Byte 0 selects a parser in multi-parser targets: leave it alone
        // most of the time.
        size_t lo = s.size() > 1 && pick(rng, 8) != 0 ? 1 : 0;
        size_t at = s.size() > lo ? lo + pick(rng, s.size() - lo) : s.size();
        switch (pick(rng, 6)) {
            case 0:
                if (at < s.size())
                    s[at] = static_cast<char>(s[at] ^ (1 << pick(rng, 8)));
                break;
            case 1:
                s.insert(at, 1, special[pick(rng, special.size())]);
                break;
            case 2:
                if (at < s.size())
                    s.erase(at, pick(rng, 8) + 1);
                break;
            case 3:
                if (at < s.size())
                    s.insert(at, s.substr(at, pick(rng, 16) + 1));
                break;
            case 4: {
                const std::string& other = seeds[pick(rng, seeds.size())];
                size_t from = pick(rng, other.size());
                s.insert(at, other.substr(from, pick(rng, 32) + 1));
                break;
            }
            default:
                if (at < s.size())
                    s[at] = static_cast<char>(rng());
                break;
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
    unsigned long count = 100000;
    unsigned long seed = std::random_device{}();
    std::vector<std::string> seeds;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            count = std::strtoul(argv[++i], nullptr, 10);
            continue;
        }
        if (std::strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            seed = std::strtoul(argv[++i], nullptr, 10);
            continue;
        }
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(argv[i], ec)) {
            std::ifstream in(entry.path(), std::ios::binary);
            seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        if (ec) {
            std::fprintf(stderr, "cannot read %s: %s\n", argv[i], ec.message().c_str());
            return 1;
        }
    }
    if (seeds.empty()) {
        std::fprintf(stderr, "usage: %s [-n COUNT] [-s SEED] CORPUS-DIR...\n", argv[0]);
        return 1;
    }
    std::printf("seed %lu, %zu seed inputs, %lu mutations\n", seed, seeds.size(), count);
    std::fflush(stdout);
    for (const auto& s : seeds)
        run(s);
    Rng rng(seed);
    for (unsigned long i = 0; i < count; i++) {
        std::string input = seeds[pick(rng, seeds.size())];
        mutate(rng, input, seeds);
        run(input);
    }
    std::printf("done: %lu inputs, no crash\n", count);
    return 0;
}
