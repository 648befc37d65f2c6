// Helpers for end-to-end tests: temporary directories, running the sluice binary, files.
#pragma once

#include <string>

namespace sluice::testing {

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

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);
// Replaces every "{DIR}" in `text` with `dir`.
std::string with_dir(std::string text, const std::string& dir);

}  // namespace sluice::testing
