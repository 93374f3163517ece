// Policy: queue order, the scheduling pass and EASY backfill.
#include "policy.hpp"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

namespace flux::sched {

bool Policy::Shape::operator==(const Shape& o) const
{
    const Request& a = req;
    const Request& b = o.req;
    return a.nnodes == b.nnodes && a.nslots == b.nslots && a.slots_per_node == b.slots_per_node &&
           a.cores_per_slot == b.cores_per_slot && a.gpus_per_slot == b.gpus_per_slot && a.exclusive == b.exclusive;
}

std::size_t Policy::ShapeHash::operator()(const Shape& s) const
{
    const Request& r = s.req;
    std::size_t h = 0;
    for (std::uint64_t v :
         {std::uint64_t{r.nnodes}, std::uint64_t{r.nslots}, std::uint64_t{r.slots_per_node},
          std::uint64_t{r.cores_per_slot}, std::uint64_t{r.gpus_per_slot}, std::uint64_t{r.exclusive}})
        h = h * 1099511628211ULL ^ std::hash<std::uint64_t>{}(v);
    return h;
}

void Policy::set_resources(const Rlist& R)
{
    pool_ = ResourcePool(R);
    feasible_.clear();
    dirty_ = true;
}

Result<void> Policy::check_feasible(const Request& req)
{
    Shape s(req);
    auto it = feasible_.find(s);
    if (it != feasible_.end())
        return it->second;
    auto r = pool_.check_feasible(req, mode_);
    if (feasible_.size() < 4096)  // bounded: shapes are few in practice
        feasible_.emplace(s, r);
    return r;
}

void Policy::set_up(const IdSet& ranks, bool up)
{
    pool_.set_up(ranks, up);
    dirty_ = true;
}

void Policy::set_expiration(double t)
{
    pool_.set_expiration(t);
    dirty_ = true;
}

Result<void> Policy::add_running(std::uint64_t id, const Rlist& R)
{
    if (running_.contains(id))
        return fail(EEXIST, fmt::format("job {} already holds resources", id));
    Allocation want = pool_.from_rlist(R);
    Allocation got = pool_.allocate_available(want);
    auto& rj = running_[id];
    rj = RunningJob{got, R.expiration()};
    if (rj.expiration > 0)
        by_expiration_.emplace(rj.expiration, &rj);
    dirty_ = true;
    if (got != want)
        return fail(EEXIST, fmt::format("job {}: {} already allocated to another job", id,
                                        alloc_summary(alloc_difference(want, got))));
    return {};
}

Result<void> Policy::enqueue(const Job& job)
{
    if (jobs_.contains(job.id))
        return fail(EEXIST, fmt::format("job {} already has a pending request", job.id));
    if (running_.contains(job.id))
        return fail(EEXIST, fmt::format("job {} already holds resources", job.id));
    if (auto r = check_feasible(job.req); !r)
        return r;
    jobs_.emplace(job.id, Pending{job, false});
    queue_.insert(key_of(job));
    Shape s(job.req);
    auto& info = shapes_[s];
    info.count++;
    if (job.req.duration > 0) {
        info.limits.insert(job.req.duration);
        if (!dead_now_.contains(s))
            exhausted_.erase(s);  // this one might end before the reservation
    }
    fresh_.push_back(key_of(job));
    return {};
}

void Policy::remove_pending(std::uint64_t id)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end())
        return;
    const Job& job = it->second.job;
    queue_.erase(key_of(job));
    auto s = shapes_.find(Shape(job.req));
    if (s != shapes_.end()) {
        if (job.req.duration > 0)
            if (auto l = s->second.limits.find(job.req.duration); l != s->second.limits.end())
                s->second.limits.erase(l);
        if (--s->second.count == 0) {
            dead_now_.erase(s->first);
            dead_withheld_.erase(s->first);
            exhausted_.erase(s->first);
            shapes_.erase(s);
        }
    }
    if (annotated_ == id)
        annotated_.reset();
    jobs_.erase(it);
}

bool Policy::cancel(std::uint64_t id)
{
    if (!jobs_.contains(id))
        return false;
    if (blocked_ && blocked_->id == id)
        dirty_ = true;  // the reservation was for this job
    remove_pending(id);
    return true;
}

void Policy::forget_jobs()
{
    std::vector<std::uint64_t> ids;
    for (const auto& [id, p] : jobs_)
        ids.push_back(id);
    for (auto id : ids)
        remove_pending(id);
    ids.clear();
    for (const auto& [id, rj] : running_)
        ids.push_back(id);
    for (auto id : ids)
        (void)release(id, Rlist{}, true);
    resv_.reset();
    blocked_.reset();
    dirty_ = true;
}

void Policy::prioritize(const std::vector<std::pair<std::uint64_t, std::uint32_t>>& updates)
{
    for (const auto& [id, priority] : updates) {
        auto it = jobs_.find(id);
        if (it == jobs_.end() || it->second.job.priority == priority)
            continue;
        queue_.erase(key_of(it->second.job));
        it->second.job.priority = priority;
        queue_.insert(key_of(it->second.job));
        dirty_ = true;
    }
}

Result<void> Policy::release(std::uint64_t id, const Rlist& R, bool final)
{
    auto it = running_.find(id);
    if (it == running_.end())
        return fail(ENOENT, fmt::format("job {} holds no resources", id));
    RunningJob& rj = it->second;
    Allocation give = final ? rj.alloc : alloc_intersection(pool_.from_rlist(R), rj.alloc);
    pool_.release(give);
    rj.alloc = alloc_difference(rj.alloc, give);
    if (final || rj.alloc.empty()) {
        auto [lo, hi] = by_expiration_.equal_range(rj.expiration);
        for (auto e = lo; e != hi; ++e) {
            if (e->second == &rj) {
                by_expiration_.erase(e);
                break;
            }
        }
        running_.erase(it);
    }
    dirty_ = true;
    return {};
}

std::vector<std::uint64_t> Policy::queue_order() const
{
    std::vector<std::uint64_t> ids;
    ids.reserve(queue_.size());
    for (const auto& k : queue_)
        ids.push_back(k.id);
    return ids;
}

Allocation Policy::held(std::uint64_t id) const
{
    auto it = running_.find(id);
    return it == running_.end() ? Allocation{} : it->second.alloc;
}

// Record that shape s does not fit now (withheld: outside the reservation);
// once no pending job of that shape can start, the shape is exhausted.
void Policy::mark_dead(const Shape& s, bool withheld, double now)
{
    auto info = shapes_.find(s);
    if (info == shapes_.end())
        return;
    if (!withheld) {
        dead_now_.insert(s);
        exhausted_.insert(s);
        return;
    }
    dead_withheld_.insert(s);
    const auto& limits = info->second.limits;
    if (limits.empty() || (resv_ && *limits.begin() > resv_->start - now))
        exhausted_.insert(s);
}

bool Policy::exhausted() const
{
    return pool_.free_cores_up() == 0 || exhausted_.size() == shapes_.size();
}

void Policy::start(const Job& job_ref, Allocation alloc, double now, std::vector<Decision>& out)
{
    const Job job = job_ref;  // job_ref lives in jobs_, which remove_pending() changes
    if (!pool_.allocate(alloc)) {
        // Placement only returns free resources; this cannot happen.
        mark_dead(Shape(job.req), false, now);
        return;
    }
    double expiration = job.req.duration > 0 ? now + job.req.duration : pool_.expiration();
    auto& rj = running_[job.id];
    rj = RunningJob{alloc, expiration};
    if (expiration > 0)
        by_expiration_.emplace(expiration, &rj);
    bool was_annotated = jobs_.at(job.id).annotated;
    remove_pending(job.id);
    out.push_back(Decision{Decision::Type::alloc, job.id, std::move(alloc), now, expiration, was_annotated});
}

bool Policy::try_backfill(const Job& job, double now, std::vector<Decision>& out)
{
    Shape s(job.req);
    if (dead_now_.contains(s))
        return false;
    if (!resv_) {
        resv_ = reserve(pool_, by_expiration_, jobs_.at(blocked_->id).job.req, mode_, now);
        withheld_ = Overlay{};
        for (const auto& g : resv_->resources) {
            if (auto idx = pool_.index_of(g.rank)) {
                auto& d = withheld_.by_index[*idx];
                d.sub_cores = g.cores;
                d.sub_gpus = g.gpus;
            }
        }
    }
    // EASY: start now if it ends by the reservation's start, or if it
    // leaves the reserved resources alone. No time limit: it never ends.
    bool ends_before = job.req.duration > 0 && now + job.req.duration <= resv_->start;
    if (!ends_before && dead_withheld_.contains(s))
        return false;
    placements_++;
    auto a = ends_before ? pool_.place(job.req, mode_) : pool_.place(job.req, mode_, &withheld_);
    if (!a) {
        mark_dead(s, !ends_before, now);
        return false;
    }
    start(job, std::move(*a), now, out);
    return true;
}

std::vector<Decision> Policy::schedule(double now)
{
    std::vector<Decision> out;
    if (jobs_.empty()) {
        blocked_.reset();
        resv_.reset();
        withheld_ = Overlay{};
        fresh_.clear();
        dirty_ = false;
        return out;
    }
    bool full = dirty_ || !blocked_;
    for (std::size_t i = 0; !full && i < fresh_.size(); i++)
        full = KeyLess{}(fresh_[i], *blocked_);

    if (full) {
        std::optional<std::uint64_t> prev = blocked_ ? std::optional(blocked_->id) : std::nullopt;
        blocked_.reset();
        resv_.reset();
        withheld_ = Overlay{};
        dead_now_.clear();
        dead_withheld_.clear();
        exhausted_.clear();
        for (auto it = queue_.begin(); it != queue_.end();) {
            auto next = std::next(it);
            const Job& job = jobs_.at(it->id).job;
            if (!blocked_) {
                // The queue's head starts if it fits; the first that does
                // not is the job every later one must not delay.
                placements_++;
                if (auto a = pool_.place(job.req, mode_)) {
                    start(job, std::move(*a), now, out);
                } else {
                    blocked_ = *it;
                    mark_dead(Shape(job.req), false, now);
                }
            } else {
                if (exhausted())
                    break;
                try_backfill(job, now, out);
            }
            it = next;
        }
        if (blocked_ && prev != blocked_->id)
            blocked_since_ = now;
    } else {
        std::sort(fresh_.begin(), fresh_.end(), KeyLess{});
        for (const auto& k : fresh_) {
            if (exhausted())
                break;
            auto it = jobs_.find(k.id);
            if (it != jobs_.end())
                try_backfill(it->second.job, now, out);
        }
    }
    fresh_.clear();
    dirty_ = false;
    annotate(now, out);
    return out;
}

void Policy::annotate(double now, std::vector<Decision>& out)
{
    std::optional<std::uint64_t> head = blocked_ ? std::optional(blocked_->id) : std::nullopt;
    if (annotated_ && annotated_ != head) {
        auto it = jobs_.find(*annotated_);
        if (it != jobs_.end()) {
            it->second.annotated = false;
            Decision d;
            d.type = Decision::Type::unannotate;
            d.id = *annotated_;
            out.push_back(std::move(d));
        }
        annotated_.reset();
    }
    if (head && !annotated_ && now - blocked_since_ >= annotate_delay_) {
        jobs_.at(*head).annotated = true;
        annotated_ = head;
        Decision d;
        d.type = Decision::Type::annotate;
        d.id = *head;
        out.push_back(std::move(d));
    }
}

std::optional<double> Policy::wakeup_time() const
{
    if (blocked_ && !annotated_ && jobs_.contains(blocked_->id))
        return blocked_since_ + annotate_delay_;
    return std::nullopt;
}

}  // namespace flux::sched
