// The differential machinery of the join tests (join_differential_test.cc,
// temporal_join_differential_test.cc): a job is run by `sluice run` at parallelism 1 and 4
// and batch sizes 1, 7 and 4096, and its changelog file sink, folded to a multiset (+I/+U
// add a row, -D/-U remove one equal row, never one that is not there), is compared with a
// brute-force answer.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>

#include "test_helpers.h"

namespace sluice::testing {

using Multiset = std::map<std::string, int>;

// Folds a changelog file (lines {"op":"+I",...}); fails on a retraction of a row that is not
// there. Each row is its line without the op field.
inline Multiset fold_changelog(const std::string& text) {
  Multiset m;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    const std::string op = line.substr(7, 2);  // {"op":"+I",...
    std::string row = line;
    row.erase(1, 10);  // the "op":"+I", field
    if (op == "+I" || op == "+U") {
      m[row]++;
    } else {
      EXPECT_GT(m[row], 0) << "retracts a row that is not there: " << line;
      if (--m[row] == 0) m.erase(row);
    }
  }
  return m;
}

// Runs `dir`/job.sql at parallelism 1 and 4 and batch sizes 1, 7 and 4096; after each run the
// folded changelog `dir`/`out_file` must equal `want`.
inline void expect_at_every_parallelism(const TempDir& dir, const std::string& out_file, const Multiset& want) {
  for (int parallelism : {1, 4}) {
    for (int batch : {1, 7, 4096}) {
      SCOPED_TRACE(::testing::Message() << "parallelism " << parallelism << " batch " << batch);
      std::remove(dir.file(out_file).c_str());
      auto r = run_sluice(fmt::format("run -q --parallelism {} --batch-size {} job.sql", parallelism, batch), dir.path());
      ASSERT_EQ(r.exit_code, 0) << r.output;
      EXPECT_EQ(fold_changelog(read_file(dir.file(out_file))), want);
    }
  }
}

}  // namespace sluice::testing
