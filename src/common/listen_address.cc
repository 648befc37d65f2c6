#include "common/listen_address.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

namespace sluice {
namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

Result<ListenAddress> parse_listen_address(const std::string& text, const std::string& what) {
  ListenAddress a;
  std::string port_text = text;
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    a.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
    if (a.host.empty()) a.host = "127.0.0.1";
  }
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
    return invalid_argument("{}: expected HOST:PORT (e.g. 127.0.0.1:8080), got '{}'", what, text);
  }
  a.port = static_cast<int>(port);
  return a;
}

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Result<std::string> read_token_file(const std::string& path, const std::string& what) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return not_found("{}: cannot read '{}'", what, path);
  if ((st.st_mode & 0077) != 0) {
    return invalid_argument("{}: '{}' is readable by others (mode {:o}); chmod 600 it", what, path, st.st_mode & 0777);
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::string token = trim(line);
  if (token.size() < 16) return invalid_argument("{}: the token must have at least 16 characters", what);
  return token;
}

bool same_secret(const std::string& want, const std::string& got) {
  if (want.empty() || want.size() != got.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(want[i] ^ got[i]);
  return diff == 0;
}

bool bearer_matches(const std::string& token, const std::string& authorization) {
  const std::string prefix = "Bearer ";
  return authorization.size() > prefix.size() && authorization.compare(0, prefix.size(), prefix) == 0 &&
         same_secret(token, authorization.substr(prefix.size()));
}

}  // namespace sluice
