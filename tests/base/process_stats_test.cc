#include "base/process_stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cmo::base {
namespace {

TEST(ProcessStats, DescribeThisProcess) {
  auto before = ReadProcessStats();
  ASSERT_TRUE(before.ok()) << before.status();
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_GT(before->start_time_seconds, now - 3600);
  EXPECT_LE(before->start_time_seconds, now + 1);
  EXPECT_GT(before->resident_memory_bytes, 1 << 20);
  EXPECT_GE(before->virtual_memory_bytes, before->resident_memory_bytes);
  EXPECT_GE(before->open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(before->max_fds, before->open_fds);
  // CPU time grows with work; an opened file is counted.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  const int fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  auto after = ReadProcessStats();
  ::close(fd);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GE(after->cpu_seconds - before->cpu_seconds, 0.1);
  EXPECT_EQ(after->open_fds, before->open_fds + 1);
  EXPECT_DOUBLE_EQ(after->start_time_seconds, before->start_time_seconds);
}

}  // namespace
}  // namespace cmo::base
