#include "base/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace cmo::base {
namespace {

// The boot time (btime of /proc/stat): /proc/self/stat gives the start in ticks after it.
absl::StatusOr<int64_t> BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      int64_t t = 0;
      if (in >> t) return t;
      break;
    }
    in.ignore(1 << 16, '\n');
  }
  return absl::UnavailableError("no btime in /proc/stat");
}

}  // namespace

absl::StatusOr<ProcessStats> ReadProcessStats() {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return absl::UnavailableError("cannot read /proc/self/stat");
  // The command name, field 2, is in parentheses and may hold spaces: count from after it.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return absl::UnavailableError("unexpected /proc/self/stat");
  std::istringstream fields(stat.substr(close + 2));
  // Fields 3.. of proc(5): state is 3, utime 14, stime 15, starttime 22, vsize 23, rss 24.
  std::string f[22];
  for (std::string& s : f) fields >> s;
  if (!fields) return absl::UnavailableError("short /proc/self/stat");
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcessStats out;
  out.cpu_seconds =
      (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / ticks;
  absl::StatusOr<int64_t> boot = BootTime();
  if (!boot.ok()) return boot.status();
  out.start_time_seconds = static_cast<double>(*boot) + std::strtod(f[19].c_str(), nullptr) / ticks;
  out.virtual_memory_bytes = std::strtoll(f[20].c_str(), nullptr, 10);
  out.resident_memory_bytes = std::strtoll(f[21].c_str(), nullptr, 10) * sysconf(_SC_PAGESIZE);
  if (DIR* d = ::opendir("/proc/self/fd"); d != nullptr) {
    while (const dirent* e = ::readdir(d)) out.open_fds += e->d_name[0] != '.' ? 1 : 0;
    ::closedir(d);
    --out.open_fds;  // the directory stream's own
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) out.max_fds = static_cast<int64_t>(lim.rlim_cur);
  return out;
}

}  // namespace cmo::base
