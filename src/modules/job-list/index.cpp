// JobIndex: journal entries to job records, lists and stats (index.hpp).
// Transitions follow flux-core's job-list job_state.c.
#include "index.hpp"

#include <flux/jobutil.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace flux::joblist {

using json = nlohmann::json;

namespace {

constexpr std::uint32_t bit(JobState s)
{
    return static_cast<std::uint32_t>(s);
}

bool is_pending(JobState s)
{
    return s == JobState::DEPEND || s == JobState::PRIORITY || s == JobState::SCHED;
}

bool is_running(JobState s)
{
    return s == JobState::RUN || s == JobState::CLEANUP;
}

int state_index(JobState s)
{
    int i = 0;
    while (i < 7 && !(bit(s) & (1u << i)))
        i++;
    return i;
}

std::optional<std::int64_t> get_int(const json& ctx, const char* key)
{
    auto it = ctx.find(key);
    if (it == ctx.end() || !it->is_number_integer())
        return std::nullopt;
    return it->get<std::int64_t>();
}

const std::string* get_str(const json& ctx, const char* key)
{
    auto it = ctx.find(key);
    if (it == ctx.end() || !it->is_string())
        return nullptr;
    return it->get_ptr<const std::string*>();
}

std::unexpected<Error> bad_context(const std::string& name, JobId id)
{
    return fail(EPROTO, fmt::format("{} context invalid: job {}", name, id));
}

std::string dump_object(const json& j)
{
    if (!j.is_object() || j.empty())
        return {};
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

JobIndex::JobIndex() = default;
JobIndex::~JobIndex() = default;

const Job* JobIndex::find(JobId id) const
{
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : &it->second;
}

std::shared_ptr<const SpecInfo> JobIndex::intern_spec(const json& jobspec)
{
    if (last_jobspec_ && *last_jobspec_ == jobspec)
        return last_spec_;
    last_spec_ = reduce_jobspec(jobspec);
    last_jobspec_ = std::make_unique<json>(jobspec);
    return last_spec_;
}

Result<void> JobIndex::apply(const json& record)
{
    if (!record.is_object())
        return fail(EPROTO, "journal record is not an object");
    auto id = record.find("id");
    auto entry = record.find("entry");
    if (id == record.end() || !id->is_number_integer() || id->get<std::int64_t>() < 0 || entry == record.end())
        return fail(EPROTO, "journal record needs id and entry");
    auto js = record.find("jobspec");
    auto R = record.find("R");
    const json* jp = js != record.end() && js->is_object() ? &*js : nullptr;
    const json* rp = R != record.end() && R->is_object() ? &*R : nullptr;
    return apply(id->get<JobId>(), *entry, jp, rp);
}

Result<void> JobIndex::apply(JobId id, const json& entry, const json* jobspec, const json* R)
{
    if (!entry.is_object())
        return fail(EPROTO, "journal entry is not an object");
    auto ts_it = entry.find("timestamp");
    const std::string* namep = get_str(entry, "name");
    if (ts_it == entry.end() || !ts_it->is_number() || !namep || namep->empty())
        return fail(EPROTO, fmt::format("job {}: malformed eventlog entry", id));
    double ts = ts_it->get<double>();
    const std::string& name = *namep;
    static const json empty = json::object();
    auto ctx_it = entry.find("context");
    const json& ctx = ctx_it != entry.end() && ctx_it->is_object() ? *ctx_it : empty;

    if (name == "submit") {
        auto urgency = get_int(ctx, "urgency");
        auto userid = get_int(ctx, "userid");
        if (!urgency || !userid)
            return bad_context(name, id);
        remove(id);  // a replayed submit starts the record over
        Job job;
        job.id = id;
        job.userid = static_cast<std::uint32_t>(*userid);
        job.urgency = static_cast<std::int32_t>(*urgency);
        job.submit_version = static_cast<std::int32_t>(get_int(ctx, "version").value_or(-1));
        job.t_submit = ts;
        if (jobspec)
            job.set_spec(intern_spec(*jobspec));
        jobs_.emplace(id, std::move(job));
        return {};
    }
    auto it = jobs_.find(id);
    if (it == jobs_.end())
        return {};  // never saw it submitted (e.g. before job-list started)
    Job& job = it->second;

    if (name == "validate") {
        transition(job, JobState::DEPEND, ts);
    } else if (name == "invalidate") {
        remove(id);
    } else if (name == "depend") {
        transition(job, JobState::PRIORITY, ts);
    } else if (name == "priority") {
        auto prio = get_int(ctx, "priority");
        if (!prio)
            return bad_context(name, id);
        if (*prio != job.priority) {
            bool listed = is_pending(job.state);
            if (listed)
                unlist(job);
            job.priority = *prio;
            if (listed)
                enlist(job);
        }
        transition(job, JobState::SCHED, ts, true);
    } else if (name == "alloc") {
        if (!(job.events_mask & bit(JobState::RUN))) {
            if (R) {
                if (auto r = reduce_R(*R))
                    job.set_R(*r);
            }
            if (auto a = ctx.find("annotations"); a != ctx.end())
                job.annotations = dump_object(*a);
        }
        transition(job, JobState::RUN, ts);
    } else if (name == "finish") {
        auto status = get_int(ctx, "status");
        if (!status)
            return bad_context(name, id);
        job.wait_status = static_cast<std::int32_t>(*status);
        if (*status == 0 && !(job.exception_occurred && job.exception_severity == 0))
            job.success = true;
        transition(job, JobState::CLEANUP, ts);
    } else if (name == "clean") {
        transition(job, JobState::INACTIVE, ts);
    } else if (name == "urgency") {
        auto urgency = get_int(ctx, "urgency");
        if (!urgency || *urgency < 0 || *urgency > 31)
            return bad_context(name, id);
        job.urgency = static_cast<std::int32_t>(*urgency);
    } else if (name == "exception") {
        const std::string* type = get_str(ctx, "type");
        auto severity = get_int(ctx, "severity");
        const std::string* note = get_str(ctx, "note");
        if (!type || !severity)
            return bad_context(name, id);
        if (!job.exception_occurred || *severity < job.exception_severity) {
            job.exception_occurred = true;
            job.exception_severity = static_cast<std::int32_t>(*severity);
            job.exception_type = *type;
            job.exception_note = note ? *note : std::string();
        }
        if (*severity == 0)
            transition(job, JobState::CLEANUP, ts);
    } else if (name == "annotations") {
        auto a = ctx.find("annotations");
        if (a == ctx.end() || !(a->is_object() || a->is_null()))
            return bad_context(name, id);
        job.annotations = dump_object(*a);
    } else if (name == "memo") {
        json a = job.annotations.empty() ? json::object() : json::parse(job.annotations, nullptr, false);
        if (a.is_discarded())
            a = json::object();
        json user = a.contains("user") ? a["user"] : json::object();
        job::merge_annotations(user, ctx);
        a["user"] = user;
        job::merge_annotations(a, json::object());
        job.annotations = dump_object(a);
    } else if (name == "dependency-add" || name == "dependency-remove") {
        const std::string* desc = get_str(ctx, "description");
        if (!desc)
            return bad_context(name, id);
        if (!job.deps)
            job.deps = std::make_unique<Dependencies>();
        auto& cur = job.deps->current;
        auto& gone = job.deps->removed;
        auto pos = std::find(cur.begin(), cur.end(), *desc);
        if (name == "dependency-add") {
            if (pos == cur.end() && std::find(gone.begin(), gone.end(), *desc) == gone.end())
                cur.push_back(*desc);
        } else if (pos != cur.end()) {
            cur.erase(pos);
            gone.push_back(*desc);
        }
    } else if (name == "resource-update") {
        auto e = ctx.find("expiration");
        if (e != ctx.end() && e->is_number() && job.state == JobState::RUN)
            job.expiration = e->get<double>();
    } else if (name == "flux-restart") {
        revert(job, ts);
    }
    return {};
}

void JobIndex::transition(Job& job, JobState to, double timestamp, bool conditional)
{
    if (conditional) {
        if (job.state != JobState::PRIORITY)
            return;
    } else if (job.events_mask & bit(to)) {
        return;
    }
    job.events_mask |= static_cast<std::uint8_t>(bit(to));
    if (to == JobState::INACTIVE) {
        // flux-core eventlog_inactive_complete(): failed unless shown otherwise
        job.result = JobResult::FAILED;
        if (job.success)
            job.result = JobResult::COMPLETED;
        else if (job.exception_occurred && job.exception_type == "cancel")
            job.result = JobResult::CANCELED;
        else if (job.exception_occurred && job.exception_type == "timeout")
            job.result = JobResult::TIMEOUT;
    }
    stats_leave(job);
    unlist(job);
    job.state = to;
    if (to == JobState::DEPEND)
        job.t_depend = timestamp;
    else if (to == JobState::RUN)
        job.t_run = timestamp;
    else if (to == JobState::CLEANUP)
        job.t_cleanup = timestamp;
    else if (to == JobState::INACTIVE)
        job.t_inactive = timestamp;
    job.states_mask |= static_cast<std::uint8_t>(bit(to));
    enlist(job);
    stats_enter(job);
}

// flux-restart: a job in SCHED goes back to PRIORITY (RFC 21).
void JobIndex::revert(Job& job, double)
{
    if (job.state != JobState::SCHED)
        return;
    stats_leave(job);
    unlist(job);
    job.states_mask &= static_cast<std::uint8_t>(~(bit(JobState::SCHED) | bit(JobState::PRIORITY)));
    job.state = JobState::PRIORITY;
    job.states_mask |= static_cast<std::uint8_t>(bit(JobState::PRIORITY));
    enlist(job);
    stats_enter(job);
}

void JobIndex::unlist(const Job& job)
{
    if (is_pending(job.state))
        pending_.erase(PendingKey{job.priority, job.id});
    else if (is_running(job.state))
        running_.erase(TimeKey{job.t_run, job.id});
    else if (job.state == JobState::INACTIVE)
        inactive_.erase(TimeKey{job.t_inactive, job.id});
}

void JobIndex::enlist(const Job& job)
{
    if (is_pending(job.state))
        pending_.insert(PendingKey{job.priority, job.id});
    else if (is_running(job.state))
        running_.insert(TimeKey{job.t_run, job.id});
    else if (job.state == JobState::INACTIVE)
        inactive_.insert(TimeKey{job.t_inactive, job.id});
}

JobIndex::Stats* JobIndex::queue_stats(const Job& job)
{
    if (!job.spec || job.spec->queue.empty())
        return nullptr;
    return &queues_[job.spec->queue];
}

void JobIndex::stats_apply(Stats& s, const Job& job, int dir) const
{
    if (job.state == JobState::NEW)
        return;
    s.state_count[state_index(job.state)] += dir;
    if (job.state != JobState::INACTIVE)
        return;
    if (job.success)
        s.successful += dir;
    else if (job.exception_occurred && job.exception_type == "cancel")
        s.canceled += dir;
    else if (job.exception_occurred && job.exception_type == "timeout")
        s.timeout += dir;
    else
        s.failed += dir;
}

void JobIndex::stats_leave(const Job& job)
{
    stats_apply(stats_, job, -1);
    if (Stats* q = queue_stats(job))
        stats_apply(*q, job, -1);
}

void JobIndex::stats_enter(const Job& job)
{
    stats_apply(stats_, job, +1);
    if (Stats* q = queue_stats(job))
        stats_apply(*q, job, +1);
}

void JobIndex::remove(JobId id)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end())
        return;
    stats_leave(it->second);
    unlist(it->second);
    jobs_.erase(it);
}

bool JobIndex::purge(JobId id)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != JobState::INACTIVE)
        return false;
    stats_leave(it->second);
    stats_.inactive_purged++;
    if (Stats* q = queue_stats(it->second))
        q->inactive_purged++;
    unlist(it->second);
    jobs_.erase(it);
    return true;
}

std::vector<const Job*> JobIndex::list(const Constraint& c, std::size_t max_entries, double since) const
{
    std::vector<const Job*> out;
    std::uint32_t states = c.possible_states();
    auto full = [&] { return max_entries > 0 && out.size() >= max_entries; };
    auto take = [&](JobId id) {
        const Job& job = jobs_.at(id);
        if (c.match(job))
            out.push_back(&job);
    };
    if (states & (bit(JobState::DEPEND) | bit(JobState::PRIORITY) | bit(JobState::SCHED))) {
        for (const auto& k : pending_) {
            if (full())
                return out;
            take(k.id);
        }
    }
    if (states & (bit(JobState::RUN) | bit(JobState::CLEANUP))) {
        for (const auto& k : running_) {
            if (full())
                return out;
            take(k.id);
        }
    }
    if (states & bit(JobState::INACTIVE)) {
        for (const auto& k : inactive_) {
            if (full() || k.t <= since)
                return out;
            take(k.id);
        }
    }
    return out;
}

std::string JobIndex::stats_json() const
{
    static const char* names[] = {"new", "depend", "priority", "sched", "run", "cleanup", "inactive"};
    auto encode = [&](const Stats& s, const std::string* name) {
        std::string o = "{\"job_states\":{";
        std::int64_t total = 0;
        for (int i = 1; i < 7; i++) {
            o += fmt::format("{}\"{}\":{}", i > 1 ? "," : "", names[i], s.state_count[i]);
            total += s.state_count[i];
        }
        o += fmt::format(
            ",\"total\":{}}},\"successful\":{},\"failed\":{},\"canceled\":{},\"timeout\":{},"
            "\"inactive_purged\":{}",
            total, s.successful, s.failed, s.canceled, s.timeout, s.inactive_purged);
        if (name)
            o += fmt::format(",\"name\":{}", json(*name).dump(-1, ' ', false, json::error_handler_t::replace));
        return o;
    };
    std::string out = encode(stats_, nullptr) + ",\"queues\":[";
    bool first = true;
    for (const auto& [name, s] : queues_) {
        out += (first ? "" : ",") + encode(s, &name) + "}";
        first = false;
    }
    return out + "]}";
}

}  // namespace flux::joblist
