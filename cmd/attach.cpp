// flux job attach: output and exit code of a job (see attach.hpp).
#include "attach.hpp"

#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <flux/clock.hpp>
#include <flux/jobid.hpp>
#include <flux/jobutil.hpp>

#include "common.hpp"

namespace flux::cmd {

using json = nlohmann::json;

int waitstatus_to_exitcode(int status, std::string& msg)
{
    msg.clear();
    int code = job::exit_code(status);
    if (WIFSIGNALED(status))
        msg = fmt::format("task(s) {}", strsignal(WTERMSIG(status)));
    else if (code > 128 && code < 128 + NSIG)
        msg = fmt::format("task(s) {}", strsignal(code - 128));
    else if (code != 0)
        msg = fmt::format("task(s) exited with exit code {}", code);
    return code;
}

bool stdin_is_null()
{
    struct stat st, null;
    if (fstat(0, &st) < 0)
        return true;
    return S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 && st.st_rdev == null.st_rdev;
}

namespace {

void write_all(int fd, std::string_view s)
{
    while (!s.empty()) {
        ssize_t n = write(fd, s.data(), s.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}

class Attach {
public:
    Attach(Handle& h, std::uint64_t id, const AttachOptions& o) : h_(h), id_(id), o_(o) {}
    int run();

private:
    void on_event(const json& e);
    void on_output(const json& e);
    void done_one();
    void start_stdin();
    void resume_stdin();
    void read_stdin();
    void send_input(std::string_view data, bool eof);

    Handle& h_;
    std::uint64_t id_;
    AttachOptions o_;
    int streams_ = 2;
    double t0_ = 0;
    int exit_code_ = 1;
    bool fatal_ = false;
    bool finished_ = false;
    int sigint_count_ = 0;
    double last_sigint_ = 0;
    std::string partial_[2];  // unterminated lines when labeling, per stream
    Future ev_, out_;
    // stdin forwarding (RFC 24 guest.input): a header, then data entries.
    WatcherPtr stdin_w_;
    bool input_header_sent_ = false, stdin_done_ = false, stdin_regular_ = false;
    int input_inflight_ = 0;
    static constexpr int max_input_inflight = 4;
};

void Attach::start_stdin()
{
    struct stat st;
    stdin_regular_ = fstat(0, &st) == 0 && S_ISREG(st.st_mode);
    resume_stdin();
}

// Read stdin while there is room in flight: a regular file (which cannot be
// polled) at once, anything else when it is readable.
void Attach::resume_stdin()
{
    if (stdin_done_ || input_inflight_ >= max_input_inflight)
        return;
    if (stdin_regular_) {
        while (!stdin_done_ && input_inflight_ < max_input_inflight)
            read_stdin();
        return;
    }
    if (!stdin_w_)
        stdin_w_ = h_.reactor().fd(0, EPOLLIN, [this](uint32_t) { read_stdin(); });
}

void Attach::read_stdin()
{
    char buf[65536];
    ssize_t n = read(0, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        stdin_w_.reset();
        stdin_done_ = true;
        send_input({}, true);
        return;
    }
    send_input(std::string_view(buf, static_cast<std::size_t>(n)), false);
}

// Append to the job's input log. At most a few appends are in flight: while
// they are, stdin is not read (a fast producer waits for the job).
void Attach::send_input(std::string_view data, bool eof)
{
    json entries = json::array();
    if (!input_header_sent_) {
        entries.push_back(json{{"timestamp", wall_time()},
                               {"name", "header"},
                               {"context",
                                {{"version", 1},
                                 {"encoding", {{"stdin", "UTF-8"}}},
                                 {"count", {{"stdin", 1}}},
                                 {"options", json::object()}}}});
        input_header_sent_ = true;
    }
    json ctx{{"stream", "stdin"}, {"rank", o_.stdin_ranks}};
    job::set_data(ctx, data);
    if (eof)
        ctx["eof"] = true;
    entries.push_back(json{{"timestamp", wall_time()}, {"name", "data"}, {"context", ctx}});
    Future f = h_.rpc("job-info.append", json{{"id", id_}, {"log", "input"}, {"entries", entries}}.dump());
    input_inflight_++;
    if (input_inflight_ >= max_input_inflight)
        stdin_w_.reset();
    f.then([this](Future& fut) {
        auto r = fut.get();
        input_inflight_--;
        if (!r) {
            // The job cannot take input (it ended, or it is not ours): stop.
            if (r.error().errnum != ENOENT && !stdin_done_)
                errorf("job", "stdin: " + r.error().message());
            stdin_done_ = true;
            stdin_w_.reset();
            return;
        }
        resume_stdin();
    });
}

void Attach::on_event(const json& e)
{
    double ts = e.value("timestamp", 0.0);
    if (t0_ == 0)
        t0_ = ts;
    std::string name = e.value("name", "");
    json ctx = e.value("context", json::object());
    if (name == "exception") {
        int sev = ctx.value("severity", 0);
        fmt::print(stderr, "{:.3f}s: job.exception type={} severity={} {}\n", ts - t0_, ctx.value("type", ""), sev,
                   ctx.value("note", ""));
        if (sev == 0)
            fatal_ = true;
    } else if (name == "finish") {
        std::string msg;
        finished_ = true;
        exit_code_ = waitstatus_to_exitcode(ctx.value("status", 0), msg);
        if (exit_code_ != 0)
            fmt::print(stderr, "flux-job: {}\n", msg);
    }
    if (o_.show_events && name != "exception")
        fmt::print(stderr, "{:.3f}s: job.{} {}\n", ts - t0_, name, ctx.empty() ? "" : ctx.dump());
    if (name == o_.wait_event && o_.wait_event != "clean") {
        ev_.cancel();
        out_.cancel();
        streams_ = 0;
        h_.reactor().stop();
    }
}

void Attach::on_output(const json& e)
{
    std::string name = e.value("name", "");
    if (name != "data" || o_.quiet_output)
        return;
    const json& ctx = e.at("context");
    if (!ctx.contains("data"))
        return;
    std::string data = job::data_of(ctx);
    bool err = ctx.value("stream", "stdout") == "stderr";
    int fd = err ? 2 : 1;
    if (!o_.label) {
        write_all(fd, data);
        return;
    }
    std::string rank = ctx.value("rank", "0");
    std::string out;
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::size_t nl = data.find('\n', pos);
        std::size_t end = nl == std::string::npos ? data.size() : nl + 1;
        out += fmt::format("{}: ", rank);
        out.append(data, pos, end - pos);
        pos = end;
    }
    write_all(fd, out);
}

void Attach::done_one()
{
    if (--streams_ <= 0)
        h_.reactor().stop();
}

int Attach::run()
{
    auto watch = [&](const char* path, bool is_output) {
        Future f =
            h_.rpc("job-info.eventlog-watch", json{{"id", id_}, {"path", path}}.dump(), NODEID_ANY, msgflag::streaming);
        f.then([this, is_output, path](Future& fut) {
            auto r = fut.get();
            fut.reset();
            if (!r) {
                if (r.error().errnum != ENODATA) {
                    std::string idstr = encode_jobid(id_, JobIdEncoding::f58);
                    if (r.error().errnum == ENOENT)
                        errorf("job", fmt::format("Failed to attach to {}: No such job", idstr));
                    else if (r.error().errnum == EPERM)
                        errorf("job", fmt::format("Failed to attach to {}: that is not your job", idstr));
                    else
                        errorf("job", fmt::format("{}: {}", path, r.error().message()));
                    streams_ = 1;
                }
                done_one();
                return;
            }
            try {
                json e = json::parse(r->payload).at("event");
                if (is_output)
                    on_output(e);
                else
                    on_event(e);
            } catch (const std::exception& ex) {
                errorf("job", fmt::format("malformed {} entry: {}", path, ex.what()));
            }
        });
        return f;
    };
    // With a pty on the job's side, keystrokes go there as typed and its
    // terminal does the echoing and line editing: ours must stay out of it.
    struct RawTty {
        termios saved{};
        bool on = false;
        ~RawTty()
        {
            if (on)
                tcsetattr(0, TCSADRAIN, &saved);
        }
    } raw;
    if (o_.raw_tty && isatty(0) && tcgetattr(0, &raw.saved) == 0) {
        termios t = raw.saved;
        cfmakeraw(&t);
        raw.on = tcsetattr(0, TCSADRAIN, &t) == 0;
    }
    ev_ = watch("eventlog", false);
    out_ = watch("guest.output", true);
    if (o_.forward_stdin)
        start_stdin();
    WatcherPtr sigw;
    if (!o_.read_only) {
        sigw = h_.reactor().signal(SIGINT, [this](int) {
            double now = monotonic_time();
            if (sigint_count_ > 0 && now - last_sigint_ < 2.0) {
                (void)h_
                    .rpc("job-manager.raise",
                         json{{"id", id_}, {"type", "cancel"}, {"severity", 0}, {"note", "interrupted by ctrl-C"}}
                             .dump())
                    .get(5);
            } else {
                (void)h_.rpc("job-manager.kill", json{{"id", id_}, {"signum", SIGINT}}.dump()).get(5);
                fmt::print(stderr, "flux-job: one more ctrl-C within 2s to cancel\n");
            }
            sigint_count_++;
            last_sigint_ = now;
        });
    }
    if (streams_ > 0)
        h_.reactor().run();
    if (fatal_ && exit_code_ == 0)
        exit_code_ = 1;
    if (!finished_ && !fatal_ && o_.wait_event == "clean" && exit_code_ == 1)
        return 1;
    return exit_code_;
}

}  // namespace

int attach(Handle& h, std::uint64_t id, const AttachOptions& opts)
{
    Attach a(h, id, opts);
    return a.run();
}

}  // namespace flux::cmd
