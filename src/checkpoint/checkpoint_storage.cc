#include "checkpoint/checkpoint_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/hash.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
constexpr const char* kManifest = "MANIFEST";
constexpr const char* kPrefix = "chk-";
constexpr const char* kTmpPrefix = ".tmp-chk-";
constexpr const char* kJobIdFile = "job_id";

std::string checksum_hex(uint64_t checksum) { return fmt::format("{:016x}", checksum); }

bool valid_name(const std::string& n) {
  if (n.empty() || n == kManifest || n == "." || n == "..") return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

// Writes `data` to `path` and fsyncs it.
Status write_durable(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create '{}': {}", path, std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return io_error("cannot write '{}': {}", path, std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return io_error("cannot fsync '{}': {}", path, std::strerror(err));
  }
  if (::close(fd) != 0) return io_error("cannot close '{}': {}", path, std::strerror(errno));
  return Status::ok();
}

Status fsync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open '{}': {}", path, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("cannot fsync '{}': {}", path, std::strerror(err));
  return Status::ok();
}

// Hard-links `from` to `to`; copies (and fsyncs the copy) when linking is impossible
// (another file system, or one without hard links).
Status link_or_copy(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (!ec) return Status::ok();
  std::error_code copy_ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, copy_ec);
  if (copy_ec) return io_error("cannot link or copy '{}' to '{}': {}", from, to, copy_ec.message());
  return fsync_file(to);
}

Status fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory '{}': {}", path, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("cannot fsync directory '{}': {}", path, std::strerror(err));
  return Status::ok();
}

Result<std::string> slurp(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return io_error("cannot read '{}': {}", path, ec.message());
  if (size > max_bytes) return io_error("'{}' is {} bytes, more than the {} expected", path, size, max_bytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open '{}'", path);
  std::string data(static_cast<size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) return io_error("short read of '{}'", path);
  return data;
}

// Removes a half-written temporary checkpoint directory unless dismissed.
class RemoveOnFailure {
 public:
  explicit RemoveOnFailure(std::string path) : path_(std::move(path)) {}
  ~RemoveOnFailure() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);  // best effort: open() removes leftovers as well
  }
  void dismiss() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

uint64_t checkpoint_checksum(std::string_view data) { return hash_bytes(data.data(), data.size()); }

Result<uint64_t> checksum_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open '{}': {}", path, std::strerror(errno));
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), &XXH3_freeState);
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) {
    ::close(fd);
    return internal_error("cannot initialise a checksum for '{}'", path);
  }
  std::string buffer(1u << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return io_error("cannot read '{}': {}", path, std::strerror(err));
    }
    if (n == 0) break;
    XXH3_64bits_update(state.get(), buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return static_cast<uint64_t>(XXH3_64bits_digest(state.get()));
}

CheckpointStorage::CheckpointStorage(std::string dir, int retain) : dir_(std::move(dir)), retain_(std::max(1, retain)) {}

std::string CheckpointStorage::path_of(uint64_t id) const { return fmt::format("{}/{}{:020}", dir_, kPrefix, id); }

Status CheckpointStorage::open() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return io_error("cannot create checkpoint directory '{}': {}", dir_, ec.message());
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().filename().string().rfind(kTmpPrefix, 0) == 0) fs::remove_all(e.path(), ec);  // interrupted write
  }
  if (ec) return io_error("cannot list '{}': {}", dir_, ec.message());
  return Status::ok();
}

Result<CheckpointInfo> CheckpointStorage::write(uint64_t id, const std::vector<CheckpointFile>& files, bool savepoint) {
  std::string final_path = path_of(id);
  std::error_code ec;
  if (fs::exists(final_path, ec)) return invalid_argument("checkpoint {} already exists in '{}'", id, dir_);
  std::string tmp = fmt::format("{}/{}{:020}", dir_, kTmpPrefix, id);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return io_error("cannot create '{}': {}", tmp, ec.message());
  RemoveOnFailure cleanup(tmp);
  CheckpointInfo info;
  info.id = id;
  info.path = final_path;
  info.savepoint = savepoint;
  info.created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  nlohmann::json manifest = {{"id", id}, {"kind", savepoint ? "savepoint" : "checkpoint"},
                             {"created_unix_ms", info.created_unix_ms}, {"files", nlohmann::json::array()}};
  std::set<std::string_view> names;
  for (const auto& f : files) {
    if (!valid_name(f.name)) return invalid_argument("bad checkpoint file name '{}'", f.name);
    // A second file of the same name would silently replace the first one's contents.
    if (!names.insert(f.name).second) return invalid_argument("checkpoint file '{}' given twice", f.name);
    std::string path = tmp + "/" + f.name;
    if (f.link_from.empty()) {
      RETURN_IF_ERROR(write_durable(path, f.data));
      manifest["files"].push_back(
          {{"name", f.name}, {"size", f.data.size()}, {"xxh3", checksum_hex(checkpoint_checksum(f.data))}});
    } else {
      if (!f.data.empty()) return invalid_argument("checkpoint file '{}' has both data and link_from", f.name);
      RETURN_IF_ERROR(link_or_copy(f.link_from, path));
      // A cheap guard against a caller whose size (and so probably checksum) is stale; the
      // checksum itself is only checked at read time, which is the point of link_from.
      uint64_t actual = fs::file_size(path, ec);
      if (ec) return io_error("cannot stat '{}': {}", path, ec.message());
      if (actual != f.size) {
        return invalid_argument("'{}' has {} bytes, the caller said {}", f.link_from, actual, f.size);
      }
      manifest["files"].push_back({{"name", f.name}, {"size", f.size}, {"xxh3", checksum_hex(f.checksum)}});
    }
    info.files.push_back(f.name);
  }
  // The manifest is written last: a directory without a valid manifest is incomplete.
  std::string text = manifest.dump(1);
  text += "\n";
  RETURN_IF_ERROR(write_durable(tmp + "/" + kManifest, text));
  RETURN_IF_ERROR(fsync_dir(tmp));
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return io_error("cannot rename '{}' to '{}': {}", tmp, final_path, std::strerror(errno));
  }
  cleanup.dismiss();
  RETURN_IF_ERROR(fsync_dir(dir_));
  RETURN_IF_ERROR(apply_retention());
  return info;
}

std::vector<uint64_t> CheckpointStorage::list() const {
  std::vector<uint64_t> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || name.size() != 4 + 20) continue;
    bool digits = std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) ids.push_back(std::stoull(name.substr(4)));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<CheckpointInfo> CheckpointStorage::verify(const std::string& path) const {
  ASSIGN_OR_RETURN(std::string text, slurp(path + "/" + kManifest, 64u << 20));
  nlohmann::json m = nlohmann::json::parse(text, nullptr, false);
  if (m.is_discarded() || !m.is_object() || !m.contains("id") || !m.contains("files") || !m["files"].is_array()) {
    return io_error("'{}/{}' is not a valid manifest", path, kManifest);
  }
  CheckpointInfo info;
  info.path = path;
  info.id = m["id"].get<uint64_t>();
  info.savepoint = m.value("kind", "") == "savepoint";
  info.created_unix_ms = m.value("created_unix_ms", int64_t{0});
  for (const auto& f : m["files"]) {
    std::string name = f.value("name", "");
    if (!valid_name(name)) return io_error("manifest of '{}' names a bad file '{}'", path, name);
    uint64_t size = f.value("size", uint64_t{0});
    // Streamed: a checkpoint may hold large (linked) files; memory stays constant.
    std::string file = path + "/" + name;
    std::error_code ec;
    uint64_t actual = fs::file_size(file, ec);
    if (ec) return io_error("cannot read '{}': {}", file, ec.message());
    if (actual != size) return io_error("'{}' has {} bytes, the manifest says {}", file, actual, size);
    ASSIGN_OR_RETURN(uint64_t checksum, checksum_file(file));
    if (checksum_hex(checksum) != f.value("xxh3", "")) return io_error("'{}' fails its checksum", file);
    info.files.push_back(name);
  }
  return info;
}

Result<std::optional<CheckpointInfo>> CheckpointStorage::latest_valid(std::vector<std::string>* warnings) const {
  auto ids = list();
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    auto info = verify(path_of(*it));
    if (info.is_ok()) return std::optional<CheckpointInfo>(info.value());
    if (warnings) warnings->push_back(fmt::format("skipping checkpoint {}: {}", *it, info.status().message()));
  }
  return std::optional<CheckpointInfo>();
}

Result<std::string> CheckpointStorage::read_file(const CheckpointInfo& info, const std::string& name) const {
  if (std::find(info.files.begin(), info.files.end(), name) == info.files.end()) {
    return not_found("checkpoint {} has no file '{}'", info.id, name);
  }
  return slurp(info.path + "/" + name, 1ull << 40);
}

std::string CheckpointStorage::file_path(const CheckpointInfo& info, const std::string& name) const {
  return info.path + "/" + name;
}

Status CheckpointStorage::apply_retention() {
  // Keep the newest `retain_` regular checkpoints; never delete savepoints.
  auto ids = list();
  int kept = 0;
  std::error_code ec;
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    std::string path = path_of(*it);
    auto manifest = slurp(path + "/" + kManifest, 64u << 20);
    bool savepoint = false;
    if (manifest.is_ok()) {
      // Parsed rather than searched: a file named "savepoint" must not make a checkpoint
      // immortal.
      nlohmann::json m = nlohmann::json::parse(manifest.value(), nullptr, false);
      savepoint = m.is_object() && m.value("kind", "") == "savepoint";
    }
    if (savepoint) continue;
    if (++kept <= retain_) continue;
    fs::remove_all(path, ec);
    if (ec) return io_error("cannot delete old checkpoint '{}': {}", path, ec.message());
  }
  return Status::ok();
}

Result<std::string> CheckpointStorage::load_or_create_job_id(bool* created) const {
  const std::string path = dir_ + "/" + kJobIdFile;
  auto valid = [](std::string_view id) {
    return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
             return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
  };
  *created = false;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    ASSIGN_OR_RETURN(std::string text, slurp(path, 1024));
    std::string_view id = text;
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.remove_suffix(1);
    if (!valid(id)) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("checkpoint directory '{}': '{}' is not a job id (32 hex digits); sinks record their "
                                "commits under it: restore it, or use a new checkpoint directory",
                                dir_, path));
    }
    return std::string(id);
  }
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", static_cast<uint32_t>(random()));
  const std::string tmp = path + ".tmp";
  RETURN_IF_ERROR(write_durable(tmp, id + "\n"));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return io_error("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(errno));
  }
  RETURN_IF_ERROR(fsync_dir(dir_));
  *created = true;
  return id;
}

}  // namespace sluice
