// RFC 37 file archive: unpack (include/flux/archive.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/archive.hpp>
#include <flux/jobutil.hpp>

namespace flux::job {

namespace {

using json = nlohmann::json;

Result<void> bad(const std::string& path, const std::string& why)
{
    return fail(EINVAL, fmt::format("files: {}: {}", path, why));
}

bool safe_path(const std::string& p)
{
    if (p.empty() || p.front() == '/')
        return false;
    std::size_t pos = 0;
    while (pos <= p.size()) {
        std::size_t slash = p.find('/', pos);
        std::string part = p.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
        if (part.empty() || part == "." || part == "..")
            return false;
        if (slash == std::string::npos)
            break;
        pos = slash + 1;
    }
    return true;
}

// Make the directories leading to `rel` under `dir`.
Result<void> make_parents(const std::string& dir, const std::string& rel)
{
    for (std::size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
        std::string d = dir + "/" + rel.substr(0, slash);
        if (mkdir(d.c_str(), 0700) < 0 && errno != EEXIST)
            return fail(errno, fmt::format("files: {}: {}", d, strerror(errno)));
    }
    return {};
}

Result<void> write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(errno, strerror(errno));
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

Result<void> unpack_one(const std::string& path, const json& obj, const std::string& dir)
{
    if (!obj.is_object())
        return bad(path, "entry must be an object");
    if (!safe_path(path))
        return bad(path, "path must be relative, without '.' or '..' components");
    unsigned mode = 0100644;
    if (auto m = obj.find("mode"); m != obj.end()) {
        if (!m->is_number_integer() || m->get<std::int64_t>() < 0 || m->get<std::int64_t>() > 0177777)
            return bad(path, "mode must be an st_mode integer");
        mode = m->get<unsigned>();
        if ((mode & S_IFMT) == 0)
            mode |= S_IFREG;
    }
    unsigned perms = mode & 07777;
    if (auto r = make_parents(dir, path); !r)
        return r;
    std::string full = dir + "/" + path;
    const json* data = obj.contains("data") ? &obj["data"] : nullptr;
    switch (mode & S_IFMT) {
        case S_IFDIR:
            if (mkdir(full.c_str(), perms ? perms : 0700) < 0 && errno != EEXIST)
                return fail(errno, fmt::format("files: {}: {}", full, strerror(errno)));
            return {};
        case S_IFLNK:
            if (!data || !data->is_string())
                return bad(path, "a symbolic link needs its target in data");
            if (symlink(data->get_ref<const std::string&>().c_str(), full.c_str()) < 0)
                return fail(errno, fmt::format("files: {}: {}", full, strerror(errno)));
            return {};
        case S_IFREG:
            break;
        default:
            return bad(path, "only regular files, directories and symbolic links are supported");
    }
    std::string content;
    std::string encoding = obj.value("encoding", "");
    if (data) {
        if (encoding == "base64") {
            if (!data->is_string())
                return bad(path, "base64 data must be a string");
            content = base64_decode(data->get_ref<const std::string&>());
        } else if (encoding == "utf-8" || (encoding.empty() && data->is_string())) {
            if (!data->is_string())
                return bad(path, "utf-8 data must be a string");
            content = data->get<std::string>();
        } else if (encoding.empty()) {
            content = data->dump();  // JSON content, stored unencoded
        } else {
            return bad(path, fmt::format("unsupported encoding '{}'", encoding));
        }
    }
    int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, perms);
    if (fd < 0)
        return fail(errno, fmt::format("files: {}: {}", full, strerror(errno)));
    auto w = write_all(fd, content);
    // open() honoured the umask; the archive's bits are what was asked for.
    if (w && fchmod(fd, perms) < 0)
        w = fail(errno, strerror(errno));
    close(fd);
    if (!w)
        return fail(w.error().errnum, fmt::format("files: {}: {}", full, w.error().message()));
    return {};
}

}  // namespace

Result<void> unpack_files(const json& archive, const std::string& dir)
{
    if (archive.is_object()) {
        for (const auto& [path, obj] : archive.items())
            if (auto r = unpack_one(path, obj, dir); !r)
                return r;
        return {};
    }
    if (archive.is_array()) {
        for (const auto& obj : archive) {
            if (!obj.is_object() || !obj.contains("path") || !obj["path"].is_string())
                return fail(EINVAL, "files: an array entry needs a string path");
            if (auto r = unpack_one(obj["path"].get<std::string>(), obj, dir); !r)
                return r;
        }
        return {};
    }
    return fail(EINVAL, "files: must be an object or an array");
}

}  // namespace flux::job
