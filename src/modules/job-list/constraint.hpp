// RFC 31 job constraints as job-list.list takes them (flux-core's
// match.c): {"and"|"or"|"not": [C...]}, {"userid": [UID...]},
// {"name"|"queue": [S...]}, {"states"|"results": [MASK or NAME...]},
// {"hostlist": [HOSTLIST...]}, {"ranks": [IDSET...]} and
// {"t_submit"|"t_depend"|"t_run"|"t_cleanup"|"t_inactive": [">=T"|"<=T"|">T"|"<T"]}.
#pragma once

#include <cstdint>
#include <memory>

#include <nlohmann/json_fwd.hpp>

#include <flux/error.hpp>

#include "jobdata.hpp"

namespace flux::joblist {

class Constraint {
public:
    /// Matches every job.
    Constraint();
    ~Constraint();
    Constraint(const Constraint&);
    Constraint& operator=(const Constraint&);

    /// Parse a constraint object; JSON null matches every job.
    /// Errors: EPROTO with flux-core's messages ("unknown constraint
    /// operator: X", "userid value must be an integer", ...).
    static Result<Constraint> parse(const nlohmann::json& c);

    /// Both must hold (for access control: a guest's own jobs only).
    static Constraint both(const Constraint& a, const Constraint& b);

    bool match(const Job& job) const;

    /// The states a matching job can be in (a superset): lets a query skip
    /// the pending, running or inactive list altogether.
    std::uint32_t possible_states() const;

    struct Node;

private:
    std::shared_ptr<const Node> root_;
};

}  // namespace flux::joblist
