// Helpers for end-to-end tests: temporary directories, running the sluice binary, files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {

// Deterministic random numbers for generated test streams (splitmix64; not std::
// distributions, whose results differ between standard libraries).
struct Rng {
  uint64_t s;
  uint64_t next() {
    s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  bool chance(double p) { return static_cast<double>(next() >> 11) / 9007199254740992.0 < p; }
};

// The sluice binary under test: $SLUICE_BINARY when set (CI's sanitizer stages run these
// tests against their ASan and TSan builds of the binary), else the one built beside the
// tests.
const char* sluice_binary();
// Whether that binary runs under a sanitizer ($SLUICE_SANITIZED set, or the tests built
// with one): memory bounds do not hold under ASan's allocator, timings are slower.
bool sanitized();

// Waits (up to 60 s) until the job `pid` wrote its pid into `pid_file` (the checkpoint
// directory's sluice.pid): from then on it has blocked signals, so a SIGINT stops it
// cleanly rather than killing it (an ASan build may take seconds to get there).
bool wait_for_pid_file(const std::string& pid_file, pid_t pid);

// Starts `sluice run -q job` in `cwd` in the background; returns its pid.
pid_t spawn_sluice_run(const std::string& job, const std::string& cwd);
// Starts `sluice ARGS...` in `cwd` in the background, stdout and stderr appended to
// `log_path`; returns its pid.
pid_t spawn_sluice(const std::vector<std::string>& args, const std::string& cwd, const std::string& log_path);
// Waits for `pid`; returns its exit code, or -signal when a signal killed it.
int wait_exit(pid_t pid);
// Sends SIGINT and waits; returns the exit code, or -signal when a signal killed it.
int interrupt_and_wait(pid_t pid);
// Runs `sluice run -q JOB --checkpoint-dir ck --checkpoint-interval 50ms` in `cwd`, stops it
// with SIGINT `run_ms` after it started (its pid file written), and returns its exit code;
// its output goes to `cwd`/log.txt. For tests that resume a job stopped mid-stream.
int run_checkpointed_then_interrupt(const std::string& job, const std::string& cwd, int run_ms);
// One HTTP/1.1 request to 127.0.0.1:PORT over a fresh connection (Connection: close);
// returns the whole reply, status line and headers included ("" when it cannot connect).
std::string http_request(int port, const std::string& method, const std::string& path,
                         const std::string& headers = "");
// Sends `request` (a whole HTTP/1.1 request, with Connection: close) to 127.0.0.1:PORT over a
// fresh connection; returns the whole reply ("" when it cannot connect).
std::string http_exchange(int port, const std::string& request);
// The body of an HTTP reply ("" when there is none).
std::string http_body(const std::string& reply);
// The value of the first series of `metric` in a /metrics text (Prometheus exposition),
// or nullopt when it has none.
std::optional<double> metric_value(const std::string& text, const std::string& metric);
// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();
// The port a `sluice run --http HOST:0` logging to `log_path` serves on, once it printed
// "serving http://HOST:PORT" (waits up to 10 s); 0 if it never did.
int serving_port(const std::string& log_path);

// A fresh directory under $TMPDIR, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `sluice ARGS` (a shell-quoted argument string) in `cwd`, stdin from `stdin_path`.
CommandResult run_sluice(const std::string& args, const std::string& cwd, const std::string& stdin_path = "/dev/null");
// Runs a shell command line (sh -c); the caller redirects stderr if it wants it.
CommandResult run_command(const std::string& cmd);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);
// Replaces every "{DIR}" in `text` with `dir`.
std::string with_dir(std::string text, const std::string& dir);
// The contents of every ```sh block of a Markdown text, in order (README commands a test
// runs as written).
std::vector<std::string> markdown_sh_blocks(const std::string& markdown);

}  // namespace sluice::testing
