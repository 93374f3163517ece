// Job fields as flux-core's flux.job.info.JobInfo derives them (jobinfo.hpp).
#include "jobinfo.hpp"

#include <pwd.h>
#include <sys/wait.h>
#include <time.h>

#include <clocale>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/jobid.hpp>
#include <flux/jobstate.hpp>

namespace flux::cmd {

using ojson = nlohmann::ordered_json;

namespace {

constexpr std::uint32_t pending_mask = 2 | 4 | 8, running_mask = 16 | 32;
constexpr std::uint32_t result_failed = 2, result_canceled = 4;

const std::map<std::string, std::string>& headings()
{
    static const std::map<std::string, std::string> h = {
        {"id", "JOBID"},
        {"id.dec", "JOBID"},
        {"id.hex", "JOBID"},
        {"id.f58", "JOBID"},
        {"id.f58plain", "JOBID"},
        {"id.kvs", "JOBID"},
        {"id.words", "JOBID"},
        {"id.dothex", "JOBID"},
        {"userid", "UID"},
        {"username", "USER"},
        {"urgency", "URG"},
        {"priority", "PRI"},
        {"state", "STATE"},
        {"state_single", "S"},
        {"state_emoji", "STATE"},
        {"name", "NAME"},
        {"cwd", "CWD"},
        {"queue", "QUEUE"},
        {"project", "PROJECT"},
        {"bank", "BANK"},
        {"ntasks", "NTASKS"},
        {"ncores", "NCORES"},
        {"duration", "DURATION"},
        {"nnodes", "NNODES"},
        {"expiration", "EXPIRATION"},
        {"t_remaining", "T_REMAINING"},
        {"ranks", "RANKS"},
        {"nodelist", "NODELIST"},
        {"success", "SUCCESS"},
        {"result", "RESULT"},
        {"result_abbrev", "RS"},
        {"result_emoji", "RESULT"},
        {"t_submit", "T_SUBMIT"},
        {"t_depend", "T_DEPEND"},
        {"t_run", "T_RUN"},
        {"t_cleanup", "T_CLEANUP"},
        {"t_inactive", "T_INACTIVE"},
        {"runtime", "RUNTIME"},
        {"status", "STATUS"},
        {"status_abbrev", "ST"},
        {"status_emoji", "STATUS"},
        {"waitstatus", "WSTATUS"},
        {"returncode", "RC"},
        {"exception.occurred", "EXCEPTION-OCCURRED"},
        {"exception.severity", "EXCEPTION-SEVERITY"},
        {"exception.type", "EXCEPTION-TYPE"},
        {"exception.note", "EXCEPTION-NOTE"},
        {"annotations", "ANNOTATIONS"},
        {"dependencies", "DEPENDENCIES"},
        {"contextual_info", "INFO"},
        {"contextual_time", "TIME"},
        {"inactive_reason", "INACTIVE-REASON"},
        {"annotations.sched.t_estimate", "T_ESTIMATE"},
        {"annotations.sched.reason_pending", "REASON"},
        {"annotations.sched.resource_summary", "RESOURCES"},
        {"sched", "SCHED"},
        {"sched.t_estimate", "T_ESTIMATE"},
        {"sched.reason_pending", "REASON"},
        {"sched.resource_summary", "RESOURCES"},
        {"user", "USER"},
        {"uri", "URI"},
    };
    return h;
}

std::string upper(std::string s)
{
    for (auto& c : s)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// Can we print emoji? (flux-core tries to encode them for stdout.)
bool utf8_output()
{
    const char* cs = setlocale(LC_CTYPE, nullptr);
    return MB_CUR_MAX > 1 || (cs && (strstr(cs, "UTF-8") || strstr(cs, "utf8")));
}

std::string state_emoji(std::uint32_t state)
{
    std::string s(job_state_name(static_cast<JobState>(state), NameForm::short_upper));
    if (!utf8_output())
        return s;
    static const std::map<std::string, std::string> e = {
        {"N", "\U0001F381"}, {"D", "\U0001F6D1"}, {"P", "\U0001F6A6"}, {"S", "\U0001F4C5"},
        {"R", "\U0001F3C3"}, {"C", "\U0001F5D1"}, {"I", "\U0001F480"},
    };
    auto it = e.find(s);
    return it == e.end() ? s : it->second;
}

std::string result_emoji(const JobInfo& j)
{
    bool u = utf8_output();
    if (!j.result)
        return u ? "\u3000" : "";
    std::string r(job_result_name(static_cast<JobResult>(*j.result), NameForm::short_upper));
    if (r == "CD")
        return u ? "\U0001F600" : ":-)";
    if (r == "F")
        return u ? "\U0001F4A9" : ":'-(";
    if (r == "CA")
        return u ? "\U0001F4A5" : "%-|";
    if (r == "TO")
        return u ? "\u231B" : "(-_-)";
    return r;
}

std::string result_str(const JobInfo& j, bool abbrev)
{
    if (!j.result)
        return "";
    return std::string(
        job_result_name(static_cast<JobResult>(*j.result), abbrev ? NameForm::short_upper : NameForm::upper));
}

std::string bool_str(const std::optional<bool>& b)
{
    return !b ? std::string() : *b ? "True" : "False";
}

template <class T>
FieldValue opt_int(const std::optional<T>& v)
{
    return v ? FieldValue(static_cast<long long>(*v)) : FieldValue(std::string());
}

// DependencyList: "begin-time=T" shown as "begin@HH:MM" (today) or
// "begin@MonDD-HH:MM", with ":SS" when the seconds are not zero.
std::string dependency_str(const std::string& dep)
{
    if (!dep.starts_with("begin-time="))
        return dep;
    char* end = nullptr;
    double ts = std::strtod(dep.c_str() + 11, &end);
    time_t t = static_cast<time_t>(ts), now = time(nullptr);
    struct tm tm, today;
    localtime_r(&t, &tm);
    localtime_r(&now, &today);
    char buf[64];
    bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
    strftime(buf, sizeof(buf), same_day ? "begin@%H:%M" : "begin@%b%d-%H:%M", &tm);
    std::string out = buf;
    if (tm.tm_sec > 0) {
        strftime(buf, sizeof(buf), ":%S", &tm);
        out += buf;
    }
    return out;
}

std::string dependencies_str(const JobInfo& j)
{
    std::string out;
    for (const auto& d : j.dependencies)
        out += (out.empty() ? "" : ",") + dependency_str(d);
    return out;
}

// annotations.a.b: the value, or nullptr when missing.
const ojson* annotation(const JobInfo& j, const std::string& path)
{
    if (!j.annotations)
        return nullptr;
    const ojson* p = j.annotations.get();
    size_t start = 0;
    while (start <= path.size()) {
        size_t dot = path.find('.', start);
        std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!p->is_object())
            return nullptr;
        auto it = p->find(key);
        if (it == p->end())
            return nullptr;
        p = &*it;
        if (dot == std::string::npos)
            break;
        start = dot + 1;
    }
    return p;
}

// How Python's str.format shows an annotation value.
FieldValue annotation_value(const ojson* v)
{
    if (!v)
        return std::string();
    if (v->is_string())
        return v->get<std::string>();
    if (v->is_boolean())
        return std::string(v->get<bool>() ? "True" : "False");
    if (v->is_number_integer())
        return static_cast<long long>(v->get<std::int64_t>());
    if (v->is_number())
        return v->get<double>();
    if (v->is_null())
        return std::string("None");
    if (v->is_object() && v->empty())
        return std::string();
    return py_json(*v);
}

}  // namespace

Result<JobInfo> JobInfo::from_json(const ojson& j)
{
    if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer())
        return fail(EPROTO, "job entry without an integer id");
    JobInfo info;
    info.id = j["id"].get<std::uint64_t>();
    auto num = [&](const char* k) -> std::optional<double> {
        auto it = j.find(k);
        if (it == j.end() || !it->is_number())
            return std::nullopt;
        return it->get<double>();
    };
    auto integer = [&](const char* k) -> std::optional<long long> {
        auto it = j.find(k);
        if (it == j.end() || !it->is_number_integer())
            return std::nullopt;
        return it->get<long long>();
    };
    auto str = [&](const char* k) -> std::optional<std::string> {
        auto it = j.find(k);
        if (it == j.end() || !it->is_string())
            return std::nullopt;
        return it->get<std::string>();
    };
    auto boolean = [&](const char* k) -> std::optional<bool> {
        auto it = j.find(k);
        if (it == j.end() || !it->is_boolean())
            return std::nullopt;
        return it->get<bool>();
    };
    if (auto v = integer("userid"))
        info.userid = static_cast<std::uint32_t>(*v);
    info.urgency = integer("urgency");
    info.priority = integer("priority");
    if (auto v = integer("state"))
        info.state = static_cast<std::uint32_t>(*v);
    if (auto v = integer("result"))
        info.result = static_cast<std::uint32_t>(*v);
    info.t_submit = num("t_submit");
    info.t_depend = num("t_depend").value_or(0);
    info.t_run = num("t_run").value_or(0);
    info.t_cleanup = num("t_cleanup").value_or(0);
    info.t_inactive = num("t_inactive").value_or(0);
    info.duration = num("duration").value_or(0);
    info.expiration = num("expiration").value_or(0);
    info.name = str("name").value_or("");
    info.cwd = str("cwd").value_or("");
    info.queue = str("queue").value_or("");
    info.project = str("project").value_or("");
    info.bank = str("bank").value_or("");
    info.ranks = str("ranks").value_or("");
    info.nodelist = str("nodelist").value_or("");
    info.ntasks = integer("ntasks");
    info.ncores = integer("ncores");
    info.nnodes = integer("nnodes");
    info.waitstatus = integer("waitstatus");
    info.success = boolean("success");
    info.exception_occurred = boolean("exception_occurred");
    info.exception_severity = integer("exception_severity");
    info.exception_type = str("exception_type");
    info.exception_note = str("exception_note");
    if (auto a = j.find("annotations"); a != j.end() && a->is_object())
        info.annotations = std::make_shared<const ojson>(*a);
    if (auto d = j.find("dependencies"); d != j.end() && d->is_array())
        for (const auto& e : *d)
            if (e.is_string())
                info.dependencies.push_back(e.get<std::string>());
    return info;
}

std::optional<std::string> job_heading(const std::string& field)
{
    const auto& h = headings();
    if (auto it = h.find(field); it != h.end())
        return it->second;
    if (field.starts_with("annotations.") && field.size() > 12)
        return upper(field.substr(12));
    if ((field.starts_with("sched.") && field.size() > 6) || (field.starts_with("user.") && field.size() > 5))
        return upper(field);
    return std::nullopt;
}

std::set<std::string> job_fields_to_attrs(const std::vector<std::string>& fields)
{
    static const std::map<std::string, std::vector<std::string>> f2a = {
        {"userid", {"userid"}},
        {"username", {"userid"}},
        {"urgency", {"urgency"}},
        {"priority", {"priority"}},
        {"state", {"state"}},
        {"state_single", {"state"}},
        {"state_emoji", {"state"}},
        {"name", {"name"}},
        {"cwd", {"cwd"}},
        {"queue", {"queue"}},
        {"project", {"project"}},
        {"bank", {"bank"}},
        {"ntasks", {"ntasks"}},
        {"ncores", {"ncores"}},
        {"duration", {"duration"}},
        {"nnodes", {"nnodes"}},
        {"ranks", {"ranks"}},
        {"nodelist", {"nodelist"}},
        {"success", {"success"}},
        {"waitstatus", {"waitstatus"}},
        {"returncode", {"waitstatus", "result"}},
        {"exception.occurred", {"exception_occurred"}},
        {"exception.severity", {"exception_severity"}},
        {"exception.type", {"exception_type"}},
        {"exception.note", {"exception_note"}},
        {"result", {"result"}},
        {"result_abbrev", {"result"}},
        {"result_emoji", {"result"}},
        {"t_submit", {"t_submit"}},
        {"t_depend", {"t_depend"}},
        {"t_run", {"t_run"}},
        {"t_cleanup", {"t_cleanup"}},
        {"t_inactive", {"t_inactive"}},
        {"runtime", {"t_run", "t_cleanup"}},
        {"status", {"state", "result"}},
        {"status_abbrev", {"state", "result"}},
        {"status_emoji", {"state", "result"}},
        {"expiration", {"expiration", "state", "result"}},
        {"t_remaining", {"expiration", "state", "result"}},
        {"annotations", {"annotations"}},
        {"dependencies", {"dependencies"}},
        {"contextual_info", {"state", "dependencies", "annotations", "nodelist", "priority", "urgency"}},
        {"contextual_time", {"state", "t_run", "t_cleanup", "duration"}},
        {"inactive_reason",
         {"state", "result", "waitstatus", "exception_occurred", "exception_severity", "exception_type",
          "exception_note"}},
        {"sched", {"annotations"}},
        {"user", {"annotations"}},
        {"uri", {"annotations"}},
    };
    std::set<std::string> attrs;
    for (const auto& f : fields) {
        if (f.starts_with("annotations.") || f.starts_with("sched.") || f.starts_with("user.")) {
            attrs.insert("annotations");
            continue;
        }
        if (auto it = f2a.find(f); it != f2a.end())
            attrs.insert(it->second.begin(), it->second.end());
    }
    return attrs;
}

std::string username_of(std::uint32_t uid)
{
    static std::map<std::uint32_t, std::string> cache;
    if (auto it = cache.find(uid); it != cache.end())
        return it->second;
    std::string name = std::to_string(uid);
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
        name = res->pw_name;
    cache[uid] = name;
    return name;
}

std::string job_state_str(const JobInfo& j, bool abbrev)
{
    if (!j.state)
        return "";
    return std::string(
        job_state_name(static_cast<JobState>(*j.state), abbrev ? NameForm::short_upper : NameForm::upper));
}

std::string job_status(const JobInfo& j, bool abbrev)
{
    if (j.state && (*j.state & (pending_mask | running_mask)))
        return job_state_str(j, abbrev);
    return result_str(j, abbrev);
}

double job_runtime(const JobInfo& j, double now)
{
    if (j.t_cleanup > 0 && j.t_run > 0)
        return j.t_cleanup - j.t_run;
    if (j.t_run > 0)
        return now - j.t_run;
    return 0.0;
}

std::string job_contextual_info(const JobInfo& j, double now)
{
    std::string state = job_state_str(j);
    if (state == "PRIORITY")
        return "priority-wait";
    if (state == "DEPEND")
        return "depends:" + dependencies_str(j);
    if (state == "SCHED") {
        const ojson* t = annotation(j, "sched.t_estimate");
        if (t && t->is_number()) {
            double eta = t->get<double>() - now;
            return "eta:" + (eta < 0 ? std::string("now") : fsd(eta));
        }
        if (j.urgency && *j.urgency == 0)
            return "held";
        if (j.priority && *j.priority == 0)
            return "priority-hold";
        // What it waits for, as the scheduler says (sched-simple: once the
        // first blocked job has waited a second, "insufficient resources").
        if (const ojson* why = annotation(j, "sched.reason_pending"); why && why->is_string())
            return why->get<std::string>();
        return "";
    }
    return j.nodelist;
}

FieldValue job_contextual_time(const JobInfo& j, double now)
{
    std::string state = job_state_str(j);
    if (state == "PRIORITY" || state == "DEPEND" || state == "SCHED")
        return j.duration;
    return job_runtime(j, now);
}

FieldValue job_returncode(const JobInfo& j)
{
    if (!j.waitstatus) {
        if (j.result && *j.result == result_canceled)
            return -128LL;
        if (j.result && *j.result == result_failed)
            return 1LL;
        return std::string();
    }
    int status = static_cast<int>(*j.waitstatus);
    if (WIFSIGNALED(status))
        return static_cast<long long>(-WTERMSIG(status));
    if (WIFEXITED(status))
        return static_cast<long long>(WEXITSTATUS(status));
    return std::string();
}

std::string job_inactive_reason(const JobInfo& j)
{
    if (job_state_str(j) != "INACTIVE")
        return "";
    std::string result = result_str(j, false);
    bool occurred = j.exception_occurred.value_or(false);
    std::string type = j.exception_type.value_or(""), note = j.exception_note.value_or("");
    if (result == "CANCELED") {
        if (occurred && type == "cancel" && !note.empty())
            return "Canceled: " + note;
        return "Canceled";
    }
    FieldValue rcv = job_returncode(j);
    long long rc = std::holds_alternative<long long>(rcv) ? std::get<long long>(rcv) : 0;
    if (result == "FAILED") {
        if (occurred && type != "exec" && j.exception_severity && *j.exception_severity == 0)
            return "Exception: type=" + type + (note.empty() ? "" : " note=" + note);
        if (rc > 128) {
            int signum = static_cast<int>(rc - 128);
            const char* desc = signum < NSIG ? strsignal(signum) : nullptr;
            return desc ? std::string(desc) : fmt::format("Signaled {}", signum);
        }
        if (rc == 126)
            return "Command invoked cannot execute";
        if (rc == 127)
            return "command not found";
        if (rc == 128)
            return "Invalid argument to exit";
        return fmt::format("Exit {}", rc);
    }
    if (result == "TIMEOUT")
        return "Timeout";
    return "Exit " + py_str(rcv);
}

FieldValue job_field(const JobInfo& j, const std::string& f, double now)
{
    if (f == "id" || f.starts_with("id.")) {
        if (j.root)
            return std::string(".");
        static const std::map<std::string, JobIdEncoding> enc = {
            {"id", JobIdEncoding::f58},           {"id.f58", JobIdEncoding::f58},
            {"id.dec", JobIdEncoding::dec},       {"id.hex", JobIdEncoding::hex},
            {"id.dothex", JobIdEncoding::dothex}, {"id.kvs", JobIdEncoding::kvs},
            {"id.words", JobIdEncoding::words},   {"id.f58plain", JobIdEncoding::f58plain},
        };
        auto it = enc.find(f);
        return it == enc.end() ? std::string() : encode_jobid(j.id, it->second);
    }
    if (f == "userid")
        return opt_int(j.userid);
    if (f == "username")
        return j.userid ? username_of(*j.userid) : std::string();
    if (f == "urgency")
        return opt_int(j.urgency);
    if (f == "priority")
        return opt_int(j.priority);
    if (f == "state")
        return job_state_str(j);
    if (f == "state_single")
        return job_state_str(j, true);
    if (f == "state_emoji")
        return j.state ? state_emoji(*j.state) : std::string();
    if (f == "name")
        return j.name;
    if (f == "cwd")
        return j.cwd;
    if (f == "queue")
        return j.queue;
    if (f == "project")
        return j.project;
    if (f == "bank")
        return j.bank;
    if (f == "ntasks")
        return opt_int(j.ntasks);
    if (f == "ncores")
        return opt_int(j.ncores);
    if (f == "nnodes")
        return opt_int(j.nnodes);
    if (f == "duration")
        return j.duration;
    if (f == "expiration")
        return j.expiration;
    if (f == "t_remaining") {
        if (job_status(j) != "RUN")
            return 0.0;
        double left = j.expiration - now;
        return left < 0 ? 0.0 : left;
    }
    if (f == "ranks")
        return j.ranks;
    if (f == "nodelist")
        return j.nodelist;
    if (f == "success")
        return bool_str(j.success);
    if (f == "result")
        return result_str(j, false);
    if (f == "result_abbrev")
        return result_str(j, true);
    if (f == "result_emoji")
        return result_emoji(j);
    if (f == "t_submit")
        return j.t_submit ? FieldValue(*j.t_submit) : FieldValue(std::string());
    if (f == "t_depend")
        return j.t_depend;
    if (f == "t_run")
        return j.t_run;
    if (f == "t_cleanup")
        return j.t_cleanup;
    if (f == "t_inactive")
        return j.t_inactive;
    if (f == "runtime")
        return job_runtime(j, now);
    if (f == "status")
        return job_status(j);
    if (f == "status_abbrev")
        return job_status(j, true);
    if (f == "status_emoji") {
        if (j.state && (*j.state & (pending_mask | running_mask)))
            return state_emoji(*j.state);
        return result_emoji(j);
    }
    if (f == "waitstatus")
        return opt_int(j.waitstatus);
    if (f == "returncode")
        return job_returncode(j);
    if (f == "exception.occurred")
        return bool_str(j.exception_occurred);
    if (f == "exception.severity")
        return opt_int(j.exception_severity);
    if (f == "exception.type")
        return j.exception_type.value_or("");
    if (f == "exception.note")
        return j.exception_note.value_or("");
    if (f == "annotations")
        return j.annotations && !j.annotations->empty() ? py_json(*j.annotations) : std::string();
    if (f == "dependencies")
        return dependencies_str(j);
    if (f == "contextual_info")
        return job_contextual_info(j, now);
    if (f == "contextual_time")
        return job_contextual_time(j, now);
    if (f == "inactive_reason")
        return job_inactive_reason(j);
    if (f == "uri") {
        const ojson* u = annotation(j, "user.uri");
        return u && u->is_string() ? u->get<std::string>() : std::string();
    }
    if (f.starts_with("annotations."))
        return annotation_value(annotation(j, f.substr(12)));
    if (f == "sched" || f == "user" || f.starts_with("sched.") || f.starts_with("user."))
        return annotation_value(annotation(j, f));
    return std::string();
}

Row job_row(const JobInfo& j, const std::vector<std::string>& fields, double now)
{
    Row row;
    for (const auto& f : fields)
        if (!row.contains(f))
            row.emplace(f, job_field(j, f, now));
    return row;
}

std::string py_json(const ojson& j)
{
    if (j.is_object()) {
        std::string out = "{";
        bool first = true;
        for (auto it = j.begin(); it != j.end(); ++it) {
            out += (first ? "" : ", ") + ojson(it.key()).dump(-1, ' ', true, ojson::error_handler_t::replace) + ": " +
                   py_json(*it);
            first = false;
        }
        return out + "}";
    }
    if (j.is_array()) {
        std::string out = "[";
        bool first = true;
        for (const auto& e : j) {
            out += (first ? "" : ", ") + py_json(e);
            first = false;
        }
        return out + "]";
    }
    if (j.is_number_float()) {
        double d = j.get<double>();
        if (std::isnan(d))
            return "NaN";
        if (std::isinf(d))
            return d > 0 ? "Infinity" : "-Infinity";
        return py_str(d);
    }
    return j.dump(-1, ' ', true, ojson::error_handler_t::replace);
}

std::string job_to_json(const JobInfo& j, double now)
{
    // JobInfo.to_dict(): defaults, then properties, then annotations and
    // exception; empty strings and zero times dropped.
    ojson d = ojson::object();
    auto put = [&](const std::string& key, const FieldValue& v) {
        bool zero_remove = key.starts_with("t_") || key == "runtime" || key == "expiration";
        if (auto s = std::get_if<std::string>(&v)) {
            if (!s->empty())
                d[key] = *s;
        } else if (auto i = std::get_if<long long>(&v)) {
            if (!(zero_remove && *i == 0))
                d[key] = *i;
        } else {
            double x = std::get<double>(v);
            if (!(zero_remove && x == 0))
                d[key] = x;
        }
    };
    auto put_bool = [&](const std::string& key, const std::optional<bool>& b) {
        if (b)
            d[key] = *b;
    };
    put("t_depend", j.t_depend);
    put("t_run", j.t_run);
    put("t_cleanup", j.t_cleanup);
    put("t_inactive", j.t_inactive);
    put("duration", j.duration);
    put("expiration", j.expiration);
    put("name", j.name);
    put("cwd", j.cwd);
    put("queue", j.queue);
    put("project", j.project);
    put("bank", j.bank);
    put("ntasks", opt_int(j.ntasks));
    put("ncores", opt_int(j.ncores));
    put("nnodes", opt_int(j.nnodes));
    put("priority", opt_int(j.priority));
    put("ranks", j.ranks);
    put("nodelist", j.nodelist);
    put_bool("success", j.success);
    put("result", result_str(j, false));
    put("waitstatus", opt_int(j.waitstatus));
    d["id"] = j.id;
    put("t_submit", j.t_submit ? FieldValue(*j.t_submit) : FieldValue(std::string()));
    put("t_remaining", job_field(j, "t_remaining", now));
    put("state", job_state_str(j));
    put("username", job_field(j, "username", now));
    put("userid", opt_int(j.userid));
    put("urgency", opt_int(j.urgency));
    put("runtime", job_runtime(j, now));
    put("status", job_status(j));
    put("returncode", job_returncode(j));
    d["dependencies"] = j.dependencies;
    d["annotations"] = j.annotations ? *j.annotations : ojson::object();
    if (j.exception_occurred.value_or(false)) {
        ojson e = ojson::object();
        e["occurred"] = true;
        if (j.exception_severity)
            e["severity"] = *j.exception_severity;
        else
            e["severity"] = "";
        e["type"] = j.exception_type.value_or("");
        e["note"] = j.exception_note.value_or("");
        d["exception"] = e;
    } else {
        d["exception"] = ojson{{"occurred", false}};
    }
    const ojson* uri = annotation(j, "user.uri");
    if (uri && uri->is_string()) {
        d["uri"] = *uri;
        auto& user = d["annotations"]["user"];
        user.erase("uri");
        if (user.empty())
            d["annotations"].erase("user");
    }
    return py_json(d);
}

void add_state_constraint(ojson& all, std::uint32_t states, std::uint32_t results)
{
    if (states && results)
        all.push_back({{"or", {{{"states", {states}}}, {{"results", {results}}}}}});
    else if (states)
        all.push_back({{"states", {states}}});
    else if (results)
        all.push_back({{"results", {results}}});
}

std::string running_instance_uri(const JobInfo& job, double now)
{
    if (job_state_str(job, true) != "R")
        return "";
    return std::get<std::string>(job_field(job, "uri", now));
}

bool add_filter(const std::string& name, std::uint32_t& states, std::uint32_t& results)
{
    std::string l;
    for (char c : name)
        l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const std::map<std::string, std::uint32_t> st = {
        {"depend", 2},    {"priority", 4}, {"sched", 8},    {"run", 16},    {"cleanup", 32},
        {"inactive", 64}, {"pending", 14}, {"running", 48}, {"active", 62},
    };
    static const std::map<std::string, std::uint32_t> rs = {
        {"completed", 1}, {"failed", 2}, {"canceled", 4}, {"timeout", 8}};
    if (auto it = st.find(l); it != st.end())
        states |= it->second;
    else if (auto r = rs.find(l); r != rs.end())
        results |= r->second;
    else
        return false;
    return true;
}

std::vector<std::string> split_commas(const std::vector<std::string>& args)
{
    std::vector<std::string> out;
    for (const auto& a : args) {
        size_t start = 0;
        while (start <= a.size()) {
            size_t c = a.find(',', start);
            out.push_back(a.substr(start, c == std::string::npos ? std::string::npos : c - start));
            if (c == std::string::npos)
                break;
            start = c + 1;
        }
    }
    return out;
}

std::vector<JobInfo> fetch_jobs_by_id(Handle& h, const std::vector<std::string>& ids,
                                      const nlohmann::ordered_json& attrs, std::size_t* failed)
{
    std::vector<std::pair<std::string, Future>> rpcs;
    for (const auto& s : ids) {
        nlohmann::ordered_json req{{"id", parse_jobid(s).value_or(0)}, {"attrs", attrs}};
        rpcs.emplace_back(s, h.rpc("job-list.list-id", req.dump()));
    }
    std::vector<JobInfo> out;
    for (auto& [orig, f] : rpcs) {
        auto r = f.get();
        if (!r) {
            if (r.error().errnum == ENOENT)
                fmt::print(stderr, "JobID {} unknown\n", orig);
            else
                fmt::print(stderr, "rpc: {}\n", strerror(r.error().errnum));
            if (failed)
                ++*failed;
            continue;
        }
        auto resp = nlohmann::ordered_json::parse(r->payload, nullptr, false);
        if (resp.is_object() && resp.contains("job"))
            if (auto info = JobInfo::from_json(resp["job"]))
                out.push_back(std::move(*info));
    }
    return out;
}

}  // namespace flux::cmd
