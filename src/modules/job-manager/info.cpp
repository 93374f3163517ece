// Reading jobs back: job-info.lookup, eventlog watches, output appended by
// job shells, and the journal that job-list follows
// (doc/dev/job-manager.md).
#include <fmt/format.h>

#include "manager.hpp"

namespace flux::jobmgr {

namespace {

Result<Log> log_of(const std::string& path)
{
    if (path == "eventlog")
        return Log::eventlog;
    if (path == "guest.output" || path == "output")
        return Log::output;
    if (path == "guest.exec.eventlog" || path == "exec")
        return Log::exec;
    if (path == "guest.input" || path == "input")
        return Log::input;
    return fail(EINVAL, fmt::format("unknown eventlog path \"{}\"", path));
}

}  // namespace

// The job's owner if the sender may read it (active or inactive); otherwise
// answer the request and return nullopt.
std::optional<std::uint32_t> JobManager::readable_job(const Message& m, JobId id, const char* denied)
{
    Job* job = find(id);
    auto owner = job ? flux::Result<std::uint32_t>(job->userid) : db_->userid(id);
    if (!owner) {
        respond_error(m, ENOENT, "unknown job id");
        return std::nullopt;
    }
    if (!may_access(m, *owner)) {
        respond_error(m, EPERM, denied);
        return std::nullopt;
    }
    return *owner;
}

// job-info.lookup {id, keys: [jobspec|R|eventlog]} -> {id, KEY: ...}
void JobManager::lookup(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    if (!readable_job(m, id, "guests may only look up their own jobs"))
        return;
    Job* job = find(id);
    std::string out = fmt::format(R"({{"id":{})", id);
    for (const auto& k : req.value("keys", json::array({"jobspec"}))) {
        std::string key = k.get<std::string>();
        if (key == "jobspec") {
            auto js = job && job->spec ? flux::Result<std::string>(job->spec->text) : db_->jobspec(id);
            if (!js) {
                respond_error(m, js.error().errnum, js.error().message());
                return;
            }
            out += fmt::format(R"(,"jobspec":{})", *js);
        } else if (key == "R") {
            auto R = job && !job->R.empty() ? flux::Result<std::string>(job->R) : db_->R(id);
            if (!R) {
                respond_error(m, ENOENT, "job has no resources allocated");
                return;
            }
            out += fmt::format(R"(,"R":{})", *R);
        } else if (auto log = log_of(key); log) {
            auto entries = db_->entries(id, *log);
            if (!entries) {
                respond_error(m, entries.error().errnum, entries.error().message());
                return;
            }
            std::string text;
            for (const auto& e : *entries)
                text += e + "\n";
            out += fmt::format(R"(,"{}":{})", key, json(text).dump());
        } else {
            respond_error(m, EINVAL, fmt::format("unknown key \"{}\"", key));
            return;
        }
    }
    out += "}";
    respond(m, std::move(out));
}

// job-info.eventlog-watch {id, path} (streaming) -> {event: ENTRY} for each
// entry so far and each one appended, then ENODATA once the job is inactive.
void JobManager::eventlog_watch(const Message& m)
{
    if (!m.has_flag(msgflag::streaming)) {
        respond_error(m, EPROTO, "eventlog-watch requires a streaming request");
        return;
    }
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    auto log = log_of(req.value("path", "eventlog"));
    if (!log) {
        respond_error(m, EINVAL, log.error().message());
        return;
    }
    if (!readable_job(m, id, "guests may only watch their own jobs"))
        return;
    Job* job = find(id);
    auto entries = db_->entries(id, *log);
    if (!entries) {
        respond_error(m, entries.error().errnum, entries.error().message());
        return;
    }
    for (const auto& e : *entries)
        respond(m, fmt::format(R"({{"event":{}}})", e));
    if (job && job->state != State::INACTIVE)
        watches_[id].push_back(Watch{m, *log});
    else
        respond_error(m, ENODATA, "");
}

// job-info.eventlog-watch-cancel {matchtag}: end the caller's watch.
void JobManager::watch_cancel(const Message& m)
{
    auto req = json::parse(m.payload);
    std::uint32_t tag = req.at("matchtag").get<std::uint32_t>();
    for (auto& [id, list] : watches_) {
        for (auto it = list.begin(); it != list.end(); ++it) {
            if (it->req.matchtag() == tag && it->req.route == m.route) {
                out(Message::error_to(it->req, ENODATA));
                list.erase(it);
                break;
            }
        }
    }
    if (!m.has_flag(msgflag::noresponse))
        respond(m);
}

void JobManager::notify(JobId id, Log log, const std::string& entry)
{
    auto it = watches_.find(id);
    if (it == watches_.end())
        return;
    for (const auto& w : it->second)
        if (w.log == log)
            out(Message::response_to(w.req, fmt::format(R"({{"event":{}}})", entry)));
}

// job-info.append {id, log: output|exec|input, entries: [ENTRY...]}: job
// shells write output and exec logs (instance owner only); the job's user
// writes its standard input (flux run, flux job attach).
void JobManager::output_append(const Message& m)
{
    auto req = json::parse(m.payload);
    JobId id = req.at("id").get<JobId>();
    auto log = log_of(req.value("log", "output"));
    if (!log || *log == Log::eventlog) {
        respond_error(m, EINVAL, "job-info.append: log must be output, exec or input");
        return;
    }
    if (*log != Log::input && !(m.rolemask & role::owner)) {
        respond_error(m, EPERM, "only job shells may append to a job's output");
        return;
    }
    Job* job = find(id);
    if (!job || job->state == State::INACTIVE) {
        respond_error(m, ENOENT, "job is not active");
        return;
    }
    if (*log == Log::input && !may_access(m, job->userid)) {
        respond_error(m, EPERM, "guests may only send input to their own jobs");
        return;
    }
    for (const auto& e : req.at("entries")) {
        if (!e.is_object() || !e.contains("name") || !e.contains("timestamp")) {
            respond_error(m, EPROTO, "job-info.append: malformed entry");
            return;
        }
        std::string text = e.dump(-1, ' ', false, json::error_handler_t::replace);
        if (auto r = db_->append(id, *log, job->next_seq[static_cast<int>(*log)]++, text); !r) {
            respond_error(m, r.error().errnum, r.error().message());
            return;
        }
        notify(id, *log, text);
    }
    respond(m);
}

// job-manager.events-journal (streaming): every event of every job from now
// on, in batches {events: [{id, entry, jobspec?, R?}]}. With {"full": true}
// the stored history of every job comes first, in id order, so a reader that
// starts late (job-list reloaded) knows every job.
void JobManager::journal(const Message& m)
{
    if (!m.has_flag(msgflag::streaming)) {
        respond_error(m, EPROTO, "events-journal requires a streaming request");
        return;
    }
    json req = m.payload.empty() ? json::object() : json::parse(m.payload);
    if (req.is_object() && req.value("full", false)) {
        if (auto r = replay_journal(m); !r) {
            respond_error(m, r.error().errnum, r.error().message());
            return;
        }
    }
    journals_.push_back(m);
}

Result<void> JobManager::replay_journal(const Message& m)
{
    auto ids = db_->ids(false);
    if (!ids)
        return std::unexpected(ids.error());
    constexpr size_t per_response = 256;  // jobs per response
    std::string batch;
    size_t n = 0;
    for (std::uint64_t id : *ids) {
        auto entries = db_->entries(id, Log::eventlog);
        if (!entries)
            return std::unexpected(entries.error());
        for (const auto& entry : *entries) {
            std::string extra;
            if (entry.find(R"("name":"submit")") != std::string::npos) {
                auto spec = db_->jobspec(id);
                extra = fmt::format(R"(,"jobspec":{})", spec ? *spec : "null");
            } else if (entry.find(R"("name":"alloc")") != std::string::npos) {
                auto R = db_->R(id);
                extra = fmt::format(R"(,"R":{})", R ? *R : "null");
            }
            add_journal_record(batch, id, entry, extra);
        }
        if (++n % per_response == 0) {
            respond(m, fmt::format(R"({{"events":[{}]}})", batch));
            batch.clear();
        }
    }
    if (!batch.empty())
        respond(m, fmt::format(R"({{"events":[{}]}})", batch));
    return {};
}

}  // namespace flux::jobmgr
