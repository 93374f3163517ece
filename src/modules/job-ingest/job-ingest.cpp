// job-ingest: accepts job submissions, validates each jobspec (RFC 25),
// refuses requests the instance can never satisfy (sched.feasibility),
// assigns FLUID job ids (RFC 19) and hands jobs to the job manager in
// batches, once per reactor loop iteration. Protocol: doc/dev/job-manager.md.
// The handler table is at the bottom of this file.
#include <ctime>
#include <unordered_map>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/clock.hpp>
#include <flux/jobid.hpp>
#include <flux/jobspec.hpp>
#include <flux/module.hpp>

namespace flux::ingest {

using json = nlohmann::json;

namespace {

constexpr int flag_debug = 1, flag_waitable = 2, flag_novalidate = 4;

// A batch closes at the end of a reactor loop iteration or at this many
// jobs, whichever comes first, so that a flood of submissions (flux submit
// --cc=1-10000 sends them all at once) reaches the job manager as a stream
// of small batches it can persist and schedule while the rest are still
// being validated, not as one batch that stalls everything behind it.
constexpr std::size_t max_batch = 64;

class Ingest {
public:
    Ingest(Handle& h, JobIdGenerator gen) : h_(h), gen_(std::move(gen))
    {
        prepare_ = h_.reactor().prepare([this] { start_batch(); });
    }
    void submit(const Message& m);

private:
    struct Pending {
        Message req;
        std::size_t spec = 0;  // index into Batch::texts
        int urgency = 16;
        int flags = 0;
    };
    // Jobspecs that ask for the same resources share one feasibility check
    // (jobs from `flux submit --cc` differ only in FLUX_JOB_CC).
    struct Batch {
        std::vector<Pending> jobs;
        std::vector<std::string> texts;
        std::vector<json> facts;              // {ntasks, sched, list, deps} for the job manager
        std::vector<std::size_t> text_facts;  // per text: its facts (copies of one jobspec share them)
        std::vector<std::size_t> group;       // per text: its feasibility group
        std::vector<std::size_t> group_text;  // per group: a text to check
        std::vector<std::string> infeasible;  // per group: "" = feasible
        std::size_t checks_pending = 0;
    };
    void start_batch();
    void send_batch(std::shared_ptr<Batch> b);

    Handle& h_;
    JobIdGenerator gen_;
    WatcherPtr prepare_;
    std::shared_ptr<Batch> batch_;
    std::unordered_map<std::string, std::size_t> text_index_;   // for the batch being filled
    std::unordered_map<std::string, std::size_t> group_index_;  // resource request -> group
    std::string last_text_;                                     // last validated jobspec text
    std::shared_ptr<const json> last_doc_;                      // ...parsed
    json last_facts_;  // what the job manager needs of it (see job-manager.submit)
    bool have_sched_ = true;
};

void Ingest::submit(const Message& m)
{
    auto req = json::parse(m.payload);
    int urgency = req.value("urgency", 16);
    int flags = req.value("flags", 0);
    bool owner = (m.rolemask & role::owner) != 0;
    if (!owner && m.userid != getuid()) {
        // Job shells run as the instance owner; another user's tasks would
        // need a setuid helper (flux-core's IMP), which is not configured.
        // Refuse now rather than let the job fail when it would start.
        (void)h_.respond_error(m, EPERM,
                               fmt::format("multi-user execution is not configured: only the instance owner "
                                           "(uid {}) can run jobs here",
                                           getuid()));
        return;
    }
    if (urgency < 0 || urgency > 31) {
        (void)h_.respond_error(m, EINVAL, "urgency must be in the range 0-31");
        return;
    }
    if (!owner && urgency > 16) {
        (void)h_.respond_error(m, EPERM, "only the instance owner can submit with urgency above 16");
        return;
    }
    if (flags & ~(flag_debug | flag_waitable | flag_novalidate)) {
        (void)h_.respond_error(m, EINVAL, "unknown submit flag");
        return;
    }
    if ((flags & flag_novalidate) && !owner) {
        (void)h_.respond_error(m, EPERM, "only the instance owner can submit with the novalidate flag");
        return;
    }
    auto it = req.find("jobspec");
    if (it == req.end() || !it->is_object()) {
        (void)h_.respond_error(m, EPROTO, "job-ingest.submit: jobspec object is required");
        return;
    }
    std::string text = it->dump(-1, ' ', false, json::error_handler_t::replace);
    if (text != last_text_) {
        auto js = job::Jobspec::from_json(std::move(*it));
        if (!js) {
            (void)h_.respond_error(m, js.error().errnum, js.error().message());
            return;
        }
        last_text_ = text;
        last_doc_ = js->doc;
        // Passed on so that the job manager need not parse the text again.
        last_facts_ = {{"ntasks", js->ntasks},
                       {"sched", js->sched_view()},
                       {"list", js->listing_view()},
                       {"deps", js->dependencies()}};
    }
    if (!batch_)
        batch_ = std::make_shared<Batch>();
    auto [pos, added] = text_index_.try_emplace(text, batch_->texts.size());
    if (added) {
        // What feasibility depends on: the resources, the time limit, the
        // queue and constraints (not the command or the environment).
        const json& doc = *last_doc_;
        std::string key = doc.at("resources").dump();
        if (auto a = doc.find("attributes"); a != doc.end() && a->is_object())
            if (auto sys = a->find("system"); sys != a->end() && sys->is_object())
                for (const char* k : {"duration", "queue", "constraints"})
                    if (auto v = sys->find(k); v != sys->end())
                        key += fmt::format("|{}={}", k, v->dump());
        auto [g, new_group] = group_index_.try_emplace(std::move(key), batch_->group_text.size());
        if (new_group)
            batch_->group_text.push_back(batch_->texts.size());
        batch_->group.push_back(g->second);
        batch_->texts.push_back(std::move(text));
        if (batch_->facts.empty() || batch_->facts.back() != last_facts_)
            batch_->facts.push_back(last_facts_);
        batch_->text_facts.push_back(batch_->facts.size() - 1);
    }
    batch_->jobs.push_back(Pending{m.without_payload(), pos->second, urgency, flags});
    if (batch_->jobs.size() >= max_batch)
        start_batch();
}

// Check feasibility of each distinct jobspec in the batch, then submit.
void Ingest::start_batch()
{
    if (!batch_)
        return;
    auto b = std::move(batch_);
    batch_.reset();
    text_index_.clear();
    group_index_.clear();
    b->infeasible.assign(b->group_text.size(), "");
    if (!have_sched_) {
        send_batch(b);
        return;
    }
    b->checks_pending = b->group_text.size();
    for (std::size_t i = 0; i < b->group_text.size(); i++) {
        Future f = h_.rpc("sched.feasibility", fmt::format(R"({{"jobspec":{}}})", b->texts[b->group_text[i]]));
        f.then([this, b, i](Future& fut) {
            auto r = fut.get();
            if (!r && r.error().errnum != ENOSYS)
                b->infeasible[i] = r.error().message();
            if (--b->checks_pending == 0)
                send_batch(b);
        });
    }
}

void Ingest::send_batch(std::shared_ptr<Batch> b)
{
    json jobs = json::array();
    std::vector<std::pair<Message, JobId>> accepted;
    double t = wall_time();
    for (auto& p : b->jobs) {
        if (const auto& why = b->infeasible[b->group[p.spec]]; !why.empty()) {
            (void)h_.respond_error(p.req, EOVERFLOW, why);
            continue;
        }
        auto id = gen_.next();
        if (!id) {
            (void)h_.respond_error(p.req, id.error().errnum, id.error().message());
            continue;
        }
        jobs.push_back({{"id", *id},
                        {"userid", p.req.userid},
                        {"urgency", p.urgency},
                        {"flags", p.flags},
                        {"t_submit", t},
                        {"jobspec", p.spec}});
        accepted.emplace_back(std::move(p.req), *id);
    }
    if (accepted.empty())
        return;
    // The jobspec texts follow the JSON header raw, not as JSON strings:
    // escaping them here and unescaping them there was a tenth of the cost
    // of a submission.
    json texts = json::array();
    std::size_t total = 0;
    for (std::size_t i = 0; i < b->texts.size(); i++) {
        texts.push_back({{"length", b->texts[i].size()}, {"facts", b->text_facts[i]}});
        total += b->texts[i].size();
    }
    std::string payload = json{{"texts", texts}, {"facts", b->facts}, {"jobs", jobs}}.dump();
    payload.reserve(payload.size() + 1 + total);
    payload += '\n';
    for (const auto& t : b->texts)
        payload += t;
    Future f = h_.rpc("job-manager.submit", std::move(payload));
    f.then([this, accepted = std::move(accepted)](Future& fut) {
        auto r = fut.get();
        if (!r) {
            for (const auto& [req, id] : accepted)
                (void)h_.respond_error(req, r.error().errnum, r.error().message());
            return;
        }
        std::unordered_map<JobId, std::string> failed;
        try {
            for (const auto& e : json::parse(r->payload).value("errors", json::array()))
                failed[e.at("id").get<JobId>()] = e.at("error").get<std::string>();
        } catch (const std::exception&) {
        }
        for (const auto& [req, id] : accepted) {
            if (auto it = failed.find(id); it != failed.end())
                (void)h_.respond_error(req, EINVAL, it->second);
            else
                (void)h_.respond(req, fmt::format(R"({{"id":{}}})", id));
        }
    });
}

int job_ingest_main(Handle& h, const std::vector<std::string>&)
{
    h.set_log_name("job-ingest");
    // Ids must keep growing across restarts: start after the newest one.
    std::uint64_t start = 0;
    if (auto r = h.rpc("job-manager.getinfo").get(); r) {
        try {
            JobId max = json::parse(r->payload).at("max_jobid").get<JobId>();
            if (max > 0)
                start = jobid_timestamp(max) + 1;
        } catch (const std::exception&) {
        }
    }
    auto rank = h.rank();
    auto gen = JobIdGenerator::create_at(rank ? *rank % (JobIdGenerator::max_generator_id + 1) : 0, start);
    if (!gen) {
        h.log(2, gen.error().message());
        return -1;
    }
    Ingest ingest(h, std::move(*gen));
    static const struct {
        const char* topic;
        void (Ingest::*fn)(const Message&);
        uint32_t roles;
    } table[] = {
        {"job-ingest.submit", &Ingest::submit, role::all},
    };
    for (const auto& e : table) {
        h.add_handler(
            MsgType::request, e.topic,
            [&ingest, &h, fn = e.fn](const Message& m) {
                try {
                    (ingest.*fn)(m);
                } catch (const std::exception& ex) {
                    (void)h.respond_error(m, EPROTO, fmt::format("{}: malformed request: {}", m.topic, ex.what()));
                }
            },
            e.roles);
    }
    return h.reactor().run();
}

}  // namespace

}  // namespace flux::ingest

FLUX_MODULE("job-ingest", flux::ingest::job_ingest_main)
