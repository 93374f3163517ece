// RFC 37 file archives, as carried in a jobspec's attributes.system.files
// (flux batch puts its script there): unpack one into a directory.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include <flux/error.hpp>

namespace flux::job {

/// Create the file system objects of `archive` (an RFC 37 dictionary, keys
/// being paths, or an array of objects with "path") under `dir`:
/// - regular files: "data" as a UTF-8 string ("encoding": "utf-8" or
///   absent), base64 ("encoding": "base64"), or any other JSON value
///   (written as JSON text); no data = an empty file;
/// - directories (S_IFDIR in "mode") and symbolic links (S_IFLNK, target in
///   "data");
/// - "mode" gives the permission bits (0644 when absent or type-only).
/// Paths must be relative and free of "." and ".." components.
/// Errors: EINVAL naming the entry ("files: script: ...") or the errno of
/// the failed system call.
Result<void> unpack_files(const nlohmann::json& archive, const std::string& dir);

}  // namespace flux::job
