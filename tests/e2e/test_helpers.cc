#include "test_helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>
#include <chrono>
#include <sstream>
#include <stdexcept>

namespace sluice::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

const char* sluice_binary() {
  const char* env = std::getenv("SLUICE_BINARY");
  return env && *env ? env : SLUICE_BINARY;
}

bool sanitized() {
#ifdef SLUICE_SANITIZED
  return true;
#else
  const char* env = std::getenv("SLUICE_SANITIZED");
  return env && *env && std::string(env) != "0";
#endif
}

CommandResult run_sluice(const std::string& args, const std::string& cwd, const std::string& stdin_path) {
  return run_command("cd '" + cwd + "' && '" + sluice_binary() + "' " + args + " <'" + stdin_path + "' 2>&1");
}

CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

pid_t spawn_sluice_run(const std::string& job, const std::string& cwd) {
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    execl(sluice_binary(), sluice_binary(), "run", "-q", job.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

pid_t spawn_sluice(const std::vector<std::string>& args, const std::string& cwd, const std::string& log_path) {
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(sluice_binary()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(sluice_binary(), argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

bool wait_for_pid_file(const std::string& pid_file, pid_t pid) {
  const std::string want = std::to_string(pid) + "\n";
  for (int i = 0; i < 6000; ++i) {
    if (read_file(pid_file) == want) return true;
    usleep(10000);
  }
  return false;
}

int interrupt_and_wait(pid_t pid) {
  kill(pid, SIGINT);
  return wait_exit(pid);
}

int run_checkpointed_then_interrupt(const std::string& job, const std::string& cwd, int run_ms) {
  const pid_t pid = spawn_sluice({"run", "-q", job, "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms"}, cwd,
                                 cwd + "/log.txt");
  if (pid <= 0) return -1;
  if (!wait_for_pid_file(cwd + "/ck/sluice.pid", pid)) {
    kill(pid, SIGKILL);
    wait_exit(pid);
    return -1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
  return interrupt_and_wait(pid);
}

std::string http_request(int port, const std::string& method, const std::string& path, const std::string& headers) {
  return http_exchange(port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers +
                                 "Content-Length: 0\r\n\r\n");
}

std::string http_exchange(int port, const std::string& req) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  timeval timeout{30, 0};  // a server that never answers fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  for (size_t sent = 0; sent < req.size();) {
    const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed early (it answered without reading the body)
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[8192];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return reply;
}

std::optional<double> metric_value(const std::string& text, const std::string& metric) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(metric + "{", 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

std::string http_body(const std::string& reply) {
  size_t at = reply.find("\r\n\r\n");
  if (at == std::string::npos) return "";
  std::string head = reply.substr(0, at);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string body = reply.substr(at + 4);
  if (head.find("transfer-encoding: chunked") == std::string::npos) return body;
  // Chunked: "SIZE\r\nDATA\r\n" ... "0\r\n\r\n".
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string::npos) break;
    size_t size = std::strtoul(body.substr(pos, eol - pos).c_str(), nullptr, 16);
    if (size == 0) break;
    out += body.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

int serving_port(const std::string& log_path) {
  const std::regex serving(R"(serving http://[0-9.]+:(\d+))");
  for (int i = 0; i < 1000; ++i) {
    std::smatch m;
    const std::string log = read_file(log_path);
    if (std::regex_search(log, m, serving)) return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string with_dir(std::string text, const std::string& dir) {
  for (size_t pos; (pos = text.find("{DIR}")) != std::string::npos;) text.replace(pos, 5, dir);
  return text;
}

std::vector<std::string> markdown_sh_blocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::istringstream in(markdown);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (!inside && line == "```sh") {
      inside = true;
      blocks.emplace_back();
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
    } else if (inside) {
      blocks.back() += line + "\n";
    }
  }
  return blocks;
}

}  // namespace sluice::testing
