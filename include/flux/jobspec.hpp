// Jobspec version 1 (RFC 14 canonical form, RFC 25 V1 subset): parse and
// validate a submitted jobspec, and build one from command-line style
// options the way flux-core's JobspecV1.from_command() does.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "flux/error.hpp"

namespace flux::job {

/// A validated V1 jobspec and the facts the job system needs from it.
struct Jobspec {
    // --- resources (RFC 25: [node ->] slot -> core [, gpu]) ---
    std::uint32_t nnodes = 0;          ///< 0: no node level, slots go anywhere
    std::uint32_t nslots = 0;          ///< total slots (nnodes * slots_per_node with nodes)
    std::uint32_t slots_per_node = 0;  ///< with a node level: exact slots on each node
    std::uint32_t cores_per_slot = 1;
    std::uint32_t gpus_per_slot = 0;
    bool exclusive = false;  ///< node-level "exclusive": true (whole nodes)

    // --- tasks ---
    std::vector<std::string> command;
    std::uint32_t ntasks = 0;          ///< total tasks (count.total, or per_slot * nslots)
    std::uint32_t tasks_per_slot = 0;  ///< count.per_slot form; 0 when count.total given

    /// attributes.system.shell.options.per-resource, when present: the shell
    /// runs `count` tasks per allocated resource of `type` ("node" or
    /// "core") instead of `ntasks` (flux run --tasks-per-node/-core).
    struct PerResource {
        std::string type;
        std::uint32_t count = 1;
    };
    std::optional<PerResource> per_resource;

    // --- attributes.system ---
    double duration = 0;   ///< seconds; 0 = unlimited
    std::string cwd;       ///< may be empty
    std::string job_name;  ///< attributes.system.job.name, else basename of command[0]
    std::string queue;     ///< attributes.system.queue, may be empty

    /// The whole document as validated (owned, immutable once parsed).
    std::shared_ptr<const nlohmann::json> doc;

    /// Parse and validate JSON text. Errors: EINVAL (or EPROTO for text that
    /// is not JSON) with a message naming the offending key, e.g.
    /// "jobspec: resources[0].count must be a positive integer".
    ///
    /// Accepted (RFC 25, with flux-core's leniencies noted):
    /// - top level: exactly version (integer 1), resources, tasks, attributes;
    /// - resources: [slot] or [node{with: [slot]}]; a vertex has only type,
    ///   count, unit, with, label, exclusive (bool); counts are integers,
    ///   >= 1 except gpu >= 0 (flux-core accepts gpu count 0). RFC 14 count
    ///   ranges ({min,max,...} or "2-4" strings) are refused: V1 requires a
    ///   fixed count and the scheduler allocates exact counts;
    /// - slot: non-empty string label; with: [core] or [core, gpu] (either
    ///   order), core/gpu vertices have only type, count, unit;
    /// - tasks: exactly one {command, slot, count} (RFC 14 "attributes"
    ///   object and "distribution" string also allowed): command a non-empty
    ///   array of strings, slot equal to the slot label, count exactly one of
    ///   per_slot (must be 1, RFC 25 and the flux-core shell) or total
    ///   (>= nnodes, RFC 25; more tasks than slots is allowed, as RFC 14
    ///   "possibly oversubscribed", RFC 25's own use case 2.1 and flux-core
    ///   do, although RFC 25's text says total <= slot count);
    /// - attributes: only system and user; system required with duration
    ///   (number >= 0); optional environment (object of strings, null
    ///   meaning "unset" per RFC 14), cwd, queue (strings), job (object,
    ///   name a string), shell (object; options an object, its
    ///   "per-resource" {type: node|core, count >= 1}), dependencies (array
    ///   of {scheme, value} strings), constraints (object); any other system
    ///   key is kept unchecked (flux-core allows them); user is free-form.
    static Result<Jobspec> parse(std::string_view text);
    static Result<Jobspec> from_json(const nlohmann::json& j);
    /// The same, keeping `j` as doc without a copy.
    static Result<Jobspec> from_json(nlohmann::json&& j);

    /// attributes.system.environment as name -> value (empty if absent;
    /// null values, RFC 14 "unset", are left out).
    std::map<std::string, std::string> environment() const;
    /// attributes.system.shell.options (JSON object text, "{}" if absent).
    std::string shell_options() const;
    /// Compact JSON text of doc.
    std::string dump() const;
    /// What a scheduler needs (compact JSON): version, resources, tasks and
    /// attributes.system duration (and queue when set); not the environment.
    std::string sched_view() const;
    /// The jobspec less attributes.system environment and files (compact
    /// JSON): what a job listing needs, a fraction of the size.
    std::string listing_view() const;
    /// attributes.system.dependencies as (scheme, value) pairs; parse()
    /// has checked their shape.
    std::vector<std::pair<std::string, std::string>> dependencies() const;

private:
    /// The checks of from_json(); doc is left unset.
    static Result<Jobspec> check(const nlohmann::json& j);
};

/// Options of flux run/submit/batch/alloc that shape the jobspec.
struct BuildOptions {
    std::vector<std::string> command;
    std::optional<std::uint32_t> ntasks;             // -n
    std::optional<std::uint32_t> cores_per_task;     // -c
    std::optional<std::uint32_t> gpus_per_task;      // -g
    std::optional<std::uint32_t> nodes;              // -N
    std::optional<std::uint32_t> tasks_per_node;     // --tasks-per-node
    std::optional<std::uint32_t> tasks_per_core;     // --tasks-per-core
    std::optional<std::uint32_t> cores;              // --cores (total)
    std::optional<std::uint32_t> gpus_per_node;      // --gpus-per-node
    bool exclusive = false;                          // -x
    double duration = 0;                             // -t, seconds (parse_time_limit)
    std::string cwd;                                 // flux run passes getcwd()
    std::string job_name;                            // --job-name
    std::string queue;                               // -q
    std::map<std::string, std::string> environment;  // always emitted, even empty
    std::map<std::string, std::int64_t> rlimits;     // shell.options.rlimit if any (-1: unlimited)
};

/// Build a V1 jobspec from options exactly as flux-core's CLI does
/// (SubmitBaseCmd.init_jobspec() + JobspecV1.from_command()/per_resource()
/// + jobspec_create()), giving the same JSON document as
/// `flux run --dry-run` up to key order and whitespace:
/// - -n N [-c C] [-g G]: [slot{count N, label "task", with [core C, gpu G]}],
///   tasks count {per_slot: 1};
/// - with -N M: [node{count M, with [slot{count ceil(N/M)}]}], tasks count
///   {per_slot: 1} when M divides N, else {total: N}; M > N is an error;
/// - -N M without -n: N = M and the nodes are exclusive;
/// - -x needs -N ("exclusive can only be set with a node count");
/// - --tasks-per-node/--tasks-per-core/--cores/--gpus-per-node select the
///   per-resource layout (shell.options.per-resource) and refuse -n/-c/-g;
/// - attributes.system: duration (0 unless -t), environment, cwd if set,
///   job.name if set, queue if set, shell.options.rlimit if any rlimits.
/// Unlike flux-core, which silently treats -n0 and -c0 as "unset", zero
/// counts are refused. Errors: EINVAL with flux-core's message, e.g.
/// "node count must not be greater than task count".
Result<Jobspec> build(const BuildOptions& opts);

/// RFC 23 Flux Standard Duration: N[SUFFIX] with N a non-negative
/// floating point number and SUFFIX one of ms, s, m, h, d (none: seconds),
/// or "inf"/"infinity" (no suffix) for an infinite duration. Parsing does
/// not depend on the locale. Errors: EINVAL "invalid Flux standard
/// duration 'X'".
Result<double> parse_duration(std::string_view fsd);

/// Seconds as FSD the way flux-core's fsd_format_duration_ex() prints
/// them: "%.<precision>g" in ms below 0.1s, then s, m, h, d; "infinity".
/// A negative or NaN duration (not FSD) gives "invalid".
std::string format_duration(double seconds, int precision = 6);

/// flux run -t/--time-limit: a bare number means MINUTES, anything else is
/// FSD. Errors: EINVAL; negative, NaN and infinite limits are refused
/// (flux-core: "duration must be a normal, finite value").
Result<double> parse_time_limit(std::string_view arg);

}  // namespace flux::job
