#include "connectors/options.h"

#include <gtest/gtest.h>

namespace sluice {

TEST(ConnectorOptionsTest, UnknownOptionIsNamedInTheError) {
  ConnectorOptions o({{"path", "x"}, {"formt", "json"}}, "table clicks");
  EXPECT_EQ(o.get_string("path"), "x");
  Status s = o.check_all_used();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("unknown option 'formt'"), std::string::npos);
  EXPECT_NE(s.message().find("table clicks"), std::string::npos);
}

TEST(ConnectorOptionsTest, TypedAccessorsExplainBadValues) {
  ConnectorOptions o({{"rate", "fast"}, {"delay", "5 seconds"}}, "table t");
  auto r = o.get_int("rate", 0);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'rate' must be an integer"), std::string::npos);
  EXPECT_EQ(o.get_duration("delay", 0).value(), 5 * kMicrosPerSecond);
}

}  // namespace sluice
