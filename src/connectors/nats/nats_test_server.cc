#include "connectors/nats/nats_test_server.h"

#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace sluice::testing {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "NatsTestCluster: %s\n", what.c_str());
  std::abort();
}

// A connection and JetStream context for one administrative call.
struct Admin {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  explicit Admin(const std::string& url) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    std::vector<std::string> urls;
    for (size_t b = 0; b <= url.size();) {
      size_t e = url.find(',', b);
      if (e == std::string::npos) e = url.size();
      urls.push_back(url.substr(b, e - b));
      b = e + 1;
    }
    std::vector<const char*> servers;
    for (const auto& u : urls) servers.push_back(u.c_str());
    natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size()));
    natsOptions_SetTimeout(o, 5000);
    if (natsConnection_Connect(&nc, o) != NATS_OK) nc = nullptr;
    natsOptions_Destroy(o);
    if (nc) {
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.Wait = 10000;
      if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) js = nullptr;
    }
  }
  ~Admin() {
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
  }
};

}  // namespace

NatsTestCluster& NatsTestCluster::shared() {
  static std::once_flag once;
  static NatsTestCluster* cluster = nullptr;
  std::call_once(once, [] {
    cluster = new NatsTestCluster(1);
    std::atexit([] { delete cluster; });
  });
  return *cluster;
}

NatsTestCluster::NatsTestCluster(int nodes) {
  char tmpl[] = "/tmp/sluice-nats-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail("mkdtemp failed");
  base_ = tmpl;
  nodes_.resize(static_cast<size_t>(nodes));
  for (int i = 0; i < nodes; ++i) {
    nodes_[i].client_port = free_port();
    nodes_[i].cluster_port = free_port();
    nodes_[i].dir = fmt::format("{}/n{}", base_, i);
    std::filesystem::create_directories(nodes_[i].dir);
  }
  for (int i = 0; i < nodes; ++i) start_node(i);
  // JetStream is ready when a stream can be created with every node's replica.
  std::string last_error;
  for (int attempt = 0; attempt < 200; ++attempt) {
    Admin a(url());
    if (a.js) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      const char* subjects[] = {"sluice-ready"};
      cfg.Name = "SLUICE_READY";
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      cfg.Replicas = nodes;
      cfg.Storage = js_MemoryStorage;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      const natsStatus st = js_AddStream(nullptr, a.js, &cfg, nullptr, &jerr);
      if (st == NATS_OK) {
        js_DeleteStream(a.js, "SLUICE_READY", nullptr, &jerr);
        return;
      }
      last_error = fmt::format("{} (JetStream error {})", natsStatus_GetText(st), static_cast<int>(jerr));
    } else {
      last_error = "no connection";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  fail(fmt::format("JetStream did not become ready (nats-server from scripts/install-deps.sh): {}; logs in {}",
                   last_error, base_));
}

NatsTestCluster::~NatsTestCluster() {
  for (int i = 0; i < nodes(); ++i) kill_node(i);
  std::error_code ec;
  std::filesystem::remove_all(base_, ec);
}

std::string NatsTestCluster::url() const {
  std::string out;
  for (const Node& n : nodes_) out += fmt::format("{}nats://127.0.0.1:{}", out.empty() ? "" : ",", n.client_port);
  return out;
}

void NatsTestCluster::kill_node(int i) {
  Node& n = nodes_[static_cast<size_t>(i)];
  if (n.pid > 0) {
    ::kill(n.pid, SIGKILL);
    ::waitpid(n.pid, nullptr, 0);
  }
  n.pid = -1;
}

void NatsTestCluster::start_node(int i) {
  Node& n = nodes_[static_cast<size_t>(i)];
  std::vector<std::string> args{"nats-server", "-js", "-a", "127.0.0.1", "-p", std::to_string(n.client_port),
                                "-sd", n.dir, "-n", fmt::format("n{}", i), "-l", n.dir + "/log"};
  if (nodes() > 1) {
    std::string routes;
    for (const Node& o : nodes_) routes += fmt::format("{}nats://127.0.0.1:{}", routes.empty() ? "" : ",", o.cluster_port);
    args.insert(args.end(), {"--cluster", fmt::format("nats://127.0.0.1:{}", n.cluster_port), "--routes", routes,
                             "--cluster_name", "sluice-test"});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "nats-server", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) fail("cannot start nats-server (scripts/install-deps.sh installs the 'nats-server' package)");
  n.pid = pid;
  for (int k = 0; k < 200 && !ready(i); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  if (!ready(i)) fail(fmt::format("node {} did not accept connections; log in {}/log", i, n.dir));
}

bool NatsTestCluster::ready(int i) const {
  Admin a(fmt::format("nats://127.0.0.1:{}", nodes_[static_cast<size_t>(i)].client_port));
  return a.nc != nullptr;
}

int NatsTestCluster::stream_leader(const std::string& stream) const {
  Admin a(url());
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (!a.js || js_GetStreamInfo(&si, a.js, stream.c_str(), nullptr, &jerr) != NATS_OK) return -1;
  int leader = -1;
  if (si->Cluster && si->Cluster->Leader && si->Cluster->Leader[0] == 'n') leader = std::atoi(si->Cluster->Leader + 1);
  jsStreamInfo_Destroy(si);
  return leader;
}

void NatsTestCluster::create_stream(const std::string& name, const std::string& subjects, int replicas,
                                    int duplicate_window_s) const {
  Admin a(url());
  if (!a.js) fail("cannot connect");
  std::vector<std::string> subs;
  for (size_t b = 0; b <= subjects.size();) {
    size_t e = subjects.find(',', b);
    if (e == std::string::npos) e = subjects.size();
    subs.push_back(subjects.substr(b, e - b));
    b = e + 1;
  }
  std::vector<const char*> ptrs;
  for (auto& s : subs) ptrs.push_back(s.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Subjects = ptrs.data();
  cfg.SubjectsLen = static_cast<int>(ptrs.size());
  cfg.Replicas = replicas;
  cfg.Duplicates = static_cast<int64_t>(duplicate_window_s) * 1000000000LL;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (js_AddStream(nullptr, a.js, &cfg, nullptr, &jerr) == NATS_OK) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  fail(fmt::format("cannot create stream {} (JetStream error {})", name, static_cast<int>(jerr)));
}

void NatsTestCluster::delete_stream(const std::string& name) const {
  Admin a(url());
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (a.js) js_DeleteStream(a.js, name.c_str(), nullptr, &jerr);
}

void NatsTestCluster::publish(const std::string& subject, const std::vector<std::string>& payloads) const {
  Admin a(url());
  if (!a.js) fail("cannot connect");
  for (const auto& p : payloads) {
    if (js_PublishAsync(a.js, subject.c_str(), p.data(), static_cast<int>(p.size()), nullptr) != NATS_OK) {
      fail("publish failed");
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 30000;
  if (js_PublishAsyncComplete(a.js, &po) != NATS_OK) fail("publish acknowledgements timed out");
}

std::vector<std::string> NatsTestCluster::messages(const std::string& stream) const {
  Admin a(url());
  if (!a.js) fail("cannot connect");
  std::vector<std::string> out;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&si, a.js, stream.c_str(), nullptr, &jerr) != NATS_OK) fail("no stream " + stream);
  const uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  for (uint64_t seq = first; seq <= last && last > 0; ++seq) {
    natsMsg* m = nullptr;
    if (js_GetMsg(&m, a.js, stream.c_str(), seq, nullptr, &jerr) != NATS_OK) continue;  // deleted
    out.emplace_back(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
  }
  return out;
}

uint64_t NatsTestCluster::ack_floor(const std::string& stream, const std::string& consumer) const {
  Admin a(url());
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (!a.js || js_GetConsumerInfo(&ci, a.js, stream.c_str(), consumer.c_str(), nullptr, &jerr) != NATS_OK) return 0;
  const uint64_t floor = ci->AckFloor.Stream;
  jsConsumerInfo_Destroy(ci);
  return floor;
}

}  // namespace sluice::testing
