// RFC 31 constraint matching (constraint.hpp).
#include "constraint.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/hostlist.hpp>
#include <flux/idset.hpp>

namespace flux::joblist {

using json = nlohmann::json;

namespace {

constexpr std::uint32_t all_states = 0x7f;
constexpr std::uint32_t valid_results = 1 | 2 | 4 | 8;
constexpr std::uint32_t state_pending = 2 | 4 | 8, state_running = 16 | 32;

enum class Op { all, and_, or_, not_, userid, name, queue, states, results, hostlist, ranks, timestamp };
enum class Cmp { ge, le, gt, lt };

}  // namespace

struct Constraint::Node {
    Op op = Op::all;
    std::vector<Node> children;
    std::vector<std::uint32_t> ids;
    std::vector<std::string> strings;
    std::uint32_t mask = 0;
    Hostlist hosts;
    IdSet ranks;
    std::string tname;
    Cmp cmp = Cmp::ge;
    double t = 0;
};

namespace {

using Node = Constraint::Node;

Result<std::uint32_t> states_mask(const json& values)
{
    std::uint32_t mask = 0;
    for (const auto& v : values) {
        if (v.is_string()) {
            std::string s = v.get<std::string>();
            std::string l;
            for (char c : s)
                l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (l == "pending")
                mask |= state_pending;
            else if (l == "running")
                mask |= state_running;
            else if (l == "active")
                mask |= state_pending | state_running;
            else if (auto st = parse_job_state(s))
                mask |= static_cast<std::uint32_t>(*st);
            else
                return fail(EPROTO, fmt::format("invalid states value '{}' specified", s));
        } else if (v.is_number_integer()) {
            auto n = v.get<std::int64_t>();
            if (n < 0 || (static_cast<std::uint64_t>(n) & ~std::uint64_t{all_states}))
                return fail(EPROTO, fmt::format("invalid states value '{:X}h' specified", n));
            mask |= static_cast<std::uint32_t>(n);
        } else {
            return fail(EPROTO, "states value invalid type");
        }
    }
    return mask;
}

Result<std::uint32_t> results_mask(const json& values)
{
    std::uint32_t mask = 0;
    for (const auto& v : values) {
        if (v.is_string()) {
            auto r = parse_job_result(v.get<std::string>());
            if (!r)
                return fail(EPROTO, fmt::format("invalid results value '{}' specified", v.get<std::string>()));
            mask |= static_cast<std::uint32_t>(*r);
        } else if (v.is_number_integer()) {
            auto n = v.get<std::int64_t>();
            if (n < 0 || (static_cast<std::uint64_t>(n) & ~std::uint64_t{valid_results}))
                return fail(EPROTO, fmt::format("invalid results value '{:X}h' specified", n));
            mask |= static_cast<std::uint32_t>(n);
        } else {
            return fail(EPROTO, "results value invalid type");
        }
    }
    return mask;
}

Result<Node> parse_node(const json& c, int depth)
{
    Node n;
    if (c.is_null())
        return n;
    if (depth > 64)
        return fail(EPROTO, "constraint nested too deeply");
    if (!c.is_object())
        return fail(EPROTO, "constraint must be JSON object");
    if (c.size() > 1)
        return fail(EPROTO, "constraint must only contain 1 element");
    if (c.empty())
        return n;
    const std::string& op = c.begin().key();
    const json& values = c.begin().value();
    if (!values.is_array())
        return fail(EPROTO, fmt::format("operator {} values not an array", op));
    if (op == "and" || op == "or" || op == "not") {
        n.op = op == "and" ? Op::and_ : op == "or" ? Op::or_ : Op::not_;
        for (const auto& v : values) {
            auto child = parse_node(v, depth + 1);
            if (!child)
                return std::unexpected(child.error());
            n.children.push_back(std::move(*child));
        }
    } else if (op == "userid") {
        n.op = Op::userid;
        for (const auto& v : values) {
            if (!v.is_number_integer())
                return fail(EPROTO, "userid value must be an integer");
            n.ids.push_back(static_cast<std::uint32_t>(v.get<std::int64_t>()));
        }
    } else if (op == "name" || op == "queue") {
        n.op = op == "name" ? Op::name : Op::queue;
        for (const auto& v : values) {
            if (!v.is_string())
                return fail(EPROTO, fmt::format("{} value must be a string", op));
            n.strings.push_back(v.get<std::string>());
        }
    } else if (op == "states" || op == "results") {
        n.op = op == "states" ? Op::states : Op::results;
        auto m = op == "states" ? states_mask(values) : results_mask(values);
        if (!m)
            return std::unexpected(m.error());
        n.mask = *m;
    } else if (op == "hostlist") {
        n.op = Op::hostlist;
        for (const auto& v : values) {
            if (!v.is_string())
                return fail(EPROTO, "host value must be a string");
            auto hl = Hostlist::parse(v.get<std::string>());
            if (!hl || hl->empty())
                return fail(EPROTO, "host value not in valid Hostlist format");
            n.hosts.append(*hl);
        }
        if (n.hosts.size() > 65536)
            return fail(EPROTO, "too many hosts specified");
    } else if (op == "ranks") {
        n.op = Op::ranks;
        for (const auto& v : values) {
            if (!v.is_string())
                return fail(EPROTO, "ranks value must be a string");
            auto ids = IdSet::parse(v.get<std::string>());
            if (!ids)
                return fail(EPROTO, "ranks value not in valid idset format");
            n.ranks |= *ids;
        }
    } else if (op == "t_submit" || op == "t_depend" || op == "t_run" || op == "t_cleanup" || op == "t_inactive") {
        n.op = Op::timestamp;
        n.tname = op;
        if (values.empty())
            return fail(EPROTO, "timestamp value not specified");
        if (!values[0].is_string())
            return fail(EPROTO, fmt::format("{} value must be a string", op));
        std::string s = values[0].get<std::string>();
        size_t skip = 0;
        if (s.starts_with(">="))
            n.cmp = Cmp::ge, skip = 2;
        else if (s.starts_with("<="))
            n.cmp = Cmp::le, skip = 2;
        else if (s.starts_with(">"))
            n.cmp = Cmp::gt, skip = 1;
        else if (s.starts_with("<"))
            n.cmp = Cmp::lt, skip = 1;
        else
            return fail(EPROTO, "timestamp comparison operator not specified");
        std::string num = s.substr(skip);
        char* end = nullptr;
        errno = 0;
        n.t = std::strtod(num.c_str(), &end);
        if (num.empty() || errno != 0 || *end != '\0')
            return fail(EPROTO, "Invalid timestamp value specified");
        if (n.t < 0)
            return fail(EPROTO, "timestamp value must be >= 0.0");
    } else {
        return fail(EPROTO, fmt::format("unknown constraint operator: {}", op));
    }
    return n;
}

bool match_node(const Node& n, const Job& job)
{
    switch (n.op) {
        case Op::all:
            return true;
        case Op::and_:
            for (const auto& c : n.children)
                if (!match_node(c, job))
                    return false;
            return true;
        case Op::or_:
            if (n.children.empty())
                return true;  // RFC 31: an empty "or" is true
            for (const auto& c : n.children)
                if (match_node(c, job))
                    return true;
            return false;
        case Op::not_:
            for (const auto& c : n.children)
                if (!match_node(c, job))
                    return true;
            return false;
        case Op::userid:
            for (auto id : n.ids)
                if (id == userid_unknown || id == job.userid)
                    return true;
            return false;
        case Op::name:
        case Op::queue: {
            if (!job.spec)
                return false;
            const std::string& v = n.op == Op::name ? job.spec->name : job.spec->queue;
            if (v.empty())
                return false;
            for (const auto& s : n.strings)
                if (s == v)
                    return true;
            return false;
        }
        case Op::states:
            return (n.mask & static_cast<std::uint32_t>(job.state)) != 0;
        case Op::results:
            return job.state == JobState::INACTIVE && (n.mask & static_cast<std::uint32_t>(job.result)) != 0;
        case Op::hostlist: {
            if (job.nodelist.empty())
                return false;
            auto hl = Hostlist::parse(job.nodelist);
            if (!hl)
                return false;
            for (const auto& host : n.hosts)
                if (hl->contains(host))
                    return true;
            return false;
        }
        case Op::ranks: {
            if (job.ranks.empty())
                return false;
            auto ids = IdSet::parse(job.ranks);
            if (!ids)
                return false;
            *ids &= n.ranks;
            return !ids->empty();
        }
        case Op::timestamp: {
            double t;
            if (n.tname == "t_submit")
                t = job.t_submit;
            else if (n.tname == "t_depend") {
                if (job.submit_version < 1)
                    t = job.t_submit;
                else if (job.has(JobState::DEPEND))
                    t = job.t_depend;
                else
                    return false;
            } else if (n.tname == "t_run" && job.has(JobState::RUN))
                t = job.t_run;
            else if (n.tname == "t_cleanup" && job.has(JobState::CLEANUP))
                t = job.t_cleanup;
            else if (n.tname == "t_inactive" && job.has(JobState::INACTIVE))
                t = job.t_inactive;
            else
                return false;
            switch (n.cmp) {
                case Cmp::ge:
                    return t >= n.t;
                case Cmp::le:
                    return t <= n.t;
                case Cmp::gt:
                    return t > n.t;
                case Cmp::lt:
                    return t < n.t;
            }
            return false;
        }
    }
    return false;
}

std::uint32_t states_of(const Node& n)
{
    switch (n.op) {
        case Op::and_: {
            std::uint32_t m = all_states;
            for (const auto& c : n.children)
                m &= states_of(c);
            return m;
        }
        case Op::or_: {
            if (n.children.empty())
                return all_states;
            std::uint32_t m = 0;
            for (const auto& c : n.children)
                m |= states_of(c);
            return m;
        }
        case Op::states:
            return n.mask;
        case Op::results:
            return static_cast<std::uint32_t>(JobState::INACTIVE);
        case Op::timestamp:
            if (n.tname == "t_inactive")
                return static_cast<std::uint32_t>(JobState::INACTIVE);
            return all_states;
        default:
            return all_states;
    }
}

}  // namespace

Constraint::Constraint() : root_(std::make_shared<Node>()) {}
Constraint::~Constraint() = default;
Constraint::Constraint(const Constraint&) = default;
Constraint& Constraint::operator=(const Constraint&) = default;

Result<Constraint> Constraint::parse(const json& c)
{
    auto n = parse_node(c, 0);
    if (!n)
        return std::unexpected(n.error());
    Constraint out;
    out.root_ = std::make_shared<Node>(std::move(*n));
    return out;
}

Constraint Constraint::both(const Constraint& a, const Constraint& b)
{
    Node n;
    n.op = Op::and_;
    n.children = {*a.root_, *b.root_};
    Constraint out;
    out.root_ = std::make_shared<Node>(std::move(n));
    return out;
}

bool Constraint::match(const Job& job) const
{
    return match_node(*root_, job);
}

std::uint32_t Constraint::possible_states() const
{
    return states_of(*root_);
}

}  // namespace flux::joblist
