#include "base/process_stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

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
  // CPU time grows with work; an opened file is counted. Spin on the process's own CPU
  // clock, not the wall clock: on a loaded CI machine 300 ms of wall time can be far less
  // CPU time.
  const auto cpu_now = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
  };
  const double cpu_start = cpu_now();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  volatile uint64_t spin = 0;
  while (cpu_now() - cpu_start < 0.3 && std::chrono::steady_clock::now() < give_up) {
    spin = spin + 1;
  }
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
