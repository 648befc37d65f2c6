#include "connectors/file/part_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>

#include "common/logging.h"
#include "connectors/connector_util.h"

namespace sluice {

namespace fs = std::filesystem;

PartFiles::PartFiles(const std::string& path, std::string context) : context_(std::move(context)) {
  fs::path p(path);
  has_dir_ = p.has_parent_path();
  dir_ = has_dir_ ? p.parent_path().string() : std::string(".");
  stem_ = p.stem().string();
  ext_ = p.extension().string();
}

std::string PartFiles::join(const std::string& name) const {
  return has_dir_ ? (fs::path(dir_) / name).string() : name;
}

std::string PartFiles::in_progress() const { return join(fmt::format(".{}.inprogress{}", stem_, ext_)); }

std::string PartFiles::pending(uint64_t id) const {
  return join(fmt::format(".{}.part-{:010}{}.pending", stem_, id, ext_));
}

std::string PartFiles::committed(uint64_t id) const { return join(fmt::format("{}.part-{:010}{}", stem_, id, ext_)); }

bool PartFiles::parse_id(std::string_view name, std::string_view prefix, std::string_view suffix, uint64_t* id) {
  if (name.size() < prefix.size() + suffix.size() + 10) return false;
  if (name.substr(0, prefix.size()) != prefix || name.substr(name.size() - suffix.size()) != suffix) return false;
  std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *id);
  return ec == std::errc() && end == digits.data() + digits.size();
}

Result<PartFiles::Listing> PartFiles::list() const {
  const std::string in_progress_name = fmt::format(".{}.inprogress{}", stem_, ext_);
  const std::string committed_prefix = fmt::format("{}.part-", stem_);
  const std::string pending_prefix = fmt::format(".{}.part-", stem_);
  const std::string pending_suffix = fmt::format("{}.pending", ext_);
  Listing out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    uint64_t id = 0;
    if (name == in_progress_name) {
      out.in_progress = true;
    } else if (parse_id(name, committed_prefix, ext_, &id)) {
      out.committed.push_back(id);
    } else if (parse_id(name, pending_prefix, pending_suffix, &id)) {
      out.pending.push_back(id);
    }
  }
  if (ec) return io_error("{}: cannot list directory '{}': {}", context_, dir_, ec.message());
  std::sort(out.committed.begin(), out.committed.end());
  std::sort(out.pending.begin(), out.pending.end());
  return out;
}

Status PartFiles::commit(uint64_t id) const {
  const std::string from = pending(id);
  const std::string to = committed(id);
  struct stat st {};
  if (::stat(from.c_str(), &st) != 0) {
    if (errno != ENOENT) return io_error("{}: cannot stat '{}': {}", context_, from, errno_text(errno));
    if (::stat(to.c_str(), &st) == 0) return Status::ok();  // committed before (commit is idempotent)
    return Status(StatusCode::kDataLoss,
                  fmt::format("{}: part {} of a durable checkpoint is lost: neither '{}' nor '{}' exists", context_,
                              id, from, to));
  }
  if (::stat(to.c_str(), &st) == 0) {
    log_warn("{}: replacing '{}', left by an earlier run, with the part of checkpoint {}", context_, to, id);
  }
  return rename(from, to);
}

Status PartFiles::rename(const std::string& from, const std::string& to) const {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return io_error("{}: cannot rename '{}' to '{}': {}", context_, from, to, errno_text(errno));
  }
  return Status::ok();
}

Status PartFiles::remove(const std::string& file) const {
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    return io_error("{}: cannot remove '{}': {}", context_, file, errno_text(errno));
  }
  return Status::ok();
}

Status PartFiles::sync_dir() const {
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("{}: cannot open directory '{}': {}", context_, dir_, errno_text(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("{}: cannot fsync directory '{}': {}", context_, dir_, errno_text(err));
  return Status::ok();
}

}  // namespace sluice
