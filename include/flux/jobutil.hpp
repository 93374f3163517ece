// Small pieces shared by the job modules, the shell and the commands.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace flux::job {

/// The exit code a wait status stands for: the exit status, or 128+signal
/// for a process killed by a signal (as shells and flux-core report it).
int exit_code(int wait_status);

/// RFC 27 annotation update: objects merge recursively, a null value
/// deletes its key, objects left empty are removed. `dst` becomes an
/// object if it is not one.
void merge_annotations(nlohmann::json& dst, const nlohmann::json& src);

/// Base64 (RFC 4648, with padding), for output that is not UTF-8 (RFC 24).
std::string base64_encode(std::string_view in);
/// Characters outside the alphabet are skipped.
std::string base64_decode(std::string_view in);

/// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);

/// RFC 24 data: put `data` in an output/input entry's context as "data",
/// as is when it is UTF-8, else base64 with "encoding": "base64".
void set_data(nlohmann::json& context, std::string_view data);
/// The bytes of a context's "data" ("" if absent), decoded per "encoding".
std::string data_of(const nlohmann::json& context);

}  // namespace flux::job
