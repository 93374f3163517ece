// Broker config: load TOML files or directories as JSON, KEY=VAL overrides, typed getters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "flux/error.hpp"

namespace flux::conf {

/// Load the configuration at `path`, as `flux-broker -c PATH` does.
/// - A directory: every regular file matching `PATH/*.toml` (dot files
///   excluded) is parsed in byte-sorted name order and deep-merged into one
///   object; when two files set the same key, the later file wins, and
///   tables that appear in several files are merged key by key.  Other
///   files are ignored.  A directory with no *.toml files yields `{}`.
/// - A file ending in `.json`: parsed as JSON; the top level must be an object.
/// - Any other file: parsed as TOML.
/// Errors: the errno from stat/open/read (ENOENT for a missing path), with
/// a text naming the path; EINVAL for a parse error, with a text of the form
/// "FILE:LINE:COLUMN: description".
Result<nlohmann::json> load_path(const std::string& path);

/// Parse TOML text into a JSON object.  `name` stands in for a file name in
/// error messages ("NAME:LINE:COLUMN: description").  Conversion: tables ->
/// objects, arrays -> arrays, strings, integers (int64), floats, booleans;
/// dates, times and date-times -> strings in TOML/RFC 3339 form.
/// Errors: EINVAL on a parse error or a non-finite float (inf/nan), which
/// JSON cannot represent.
Result<nlohmann::json> load_string(std::string_view toml_text,
                                   std::string_view name = "<string>");

/// Deep-merge `src` into `dst`: where both hold an object under a key,
/// merge recursively; otherwise the value from `src` replaces the one in
/// `dst`.  If `dst` is not an object it is replaced by `src` outright.
void merge(nlohmann::json& dst, const nlohmann::json& src);

/// Apply one "KEY=VAL" override (flux-batch/flux-alloc `--conf=KEY=VAL`).
/// KEY is split at the first '='; it is a dotted path ("tbon.fanout") whose
/// components must be non-empty.  VAL is parsed as JSON if it is valid JSON
/// (flux-core behaviour), else as a TOML value (so 'x', 0x10, {a = 1} and
/// dates work), else it is taken verbatim as a string ("/etc/R").
/// Missing tables along the path are created; the final key is replaced.
/// Errors (conf left unchanged): EINVAL if there is no '=' or KEY is
/// malformed (the text quotes the argument), or if a component of the path
/// already holds a non-table value.
Result<void> apply_override(nlohmann::json& conf, std::string_view key_eq_val);

/// Check that `conf` names only tables an instance knows: ours ([access],
/// [tbon], [resource], [sched-simple], [exec]), whose keys are checked too,
/// and flux-core's others ([bootstrap], [job-manager], [policy], [queues],
/// ...), accepted as they are. Errors: EINVAL naming the first unknown
/// table or key ("unknown configuration key 'resource.bogus'").
Result<void> check_known(const nlohmann::json& conf);

/// Find the value at dotted `key`.  Returns nullptr if it (or a table on
/// the way to it) is absent.  Errors: EINVAL if a component on the way is
/// present but not a table.
Result<const nlohmann::json*> lookup(const nlohmann::json& conf,
                                     std::string_view key);

/// Typed getters.  Each returns `def` when `key` is absent, the value when
/// it has the expected type, and EINVAL otherwise, with a text naming the
/// key, the expected type and the type found, e.g.
/// "tbon.fanout: expected integer, got string".
/// get_int also fails with ERANGE for an integer that does not fit int64;
/// get_double accepts integers too.
Result<std::int64_t> get_int(const nlohmann::json& conf,
                             std::string_view key,
                             std::int64_t def);
Result<double> get_double(const nlohmann::json& conf,
                          std::string_view key,
                          double def);
Result<bool> get_bool(const nlohmann::json& conf,
                      std::string_view key,
                      bool def);
Result<std::string> get_string(const nlohmann::json& conf,
                               std::string_view key,
                               std::string_view def);

}  // namespace flux::conf
