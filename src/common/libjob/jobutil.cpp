// Shared job helpers (see jobutil.hpp).
#include "flux/jobutil.hpp"

#include <sys/wait.h>

#include <nlohmann/json.hpp>

namespace flux::job {

int exit_code(int wait_status)
{
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return WEXITSTATUS(wait_status);
}

void merge_annotations(nlohmann::json& dst, const nlohmann::json& src)
{
    if (!dst.is_object())
        dst = nlohmann::json::object();
    if (!src.is_object())
        return;
    for (auto it = src.begin(); it != src.end(); ++it) {
        if (it->is_null())
            dst.erase(it.key());
        else if (it->is_object() && dst.contains(it.key()) && dst[it.key()].is_object())
            merge_annotations(dst[it.key()], *it);
        else
            dst[it.key()] = *it;
    }
    for (auto it = dst.begin(); it != dst.end();) {
        if (it->is_object() && it->empty())
            it = dst.erase(it);
        else
            ++it;
    }
}

namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view in)
{
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(in[k])); };
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out += {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
    }
    if (i < in.size()) {
        unsigned v = byte(i) << 16;
        if (i + 1 < in.size())
            v |= byte(i + 1) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += i + 1 < in.size() ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(std::string_view in)
{
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        const char* p = c ? std::char_traits<char>::find(alphabet, 64, c) : nullptr;
        if (!p)
            continue;
        acc = (acc << 6) | static_cast<unsigned>(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

bool valid_utf8(std::string_view s)
{
    std::size_t i = 0, n = s.size();
    while (i < n) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        for (std::size_t k = 1; k < len; k++)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

void set_data(nlohmann::json& context, std::string_view data)
{
    if (valid_utf8(data)) {
        context["data"] = std::string(data);
    } else {
        context["data"] = base64_encode(data);
        context["encoding"] = "base64";
    }
}

std::string data_of(const nlohmann::json& context)
{
    auto d = context.find("data");
    if (d == context.end() || !d->is_string())
        return {};
    const auto& s = d->get_ref<const std::string&>();
    return context.value("encoding", "") == "base64" ? base64_decode(s) : s;
}

}  // namespace flux::job
