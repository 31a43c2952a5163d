// Histories of client operations in Jepsen's op shape, as JSON lines, so that external checkers
// (Elle, Porcupine) can read them too:
//   {"process":3,"type":"ok","f":"read","value":{"key":"k","value":"v","lsn":12},"time":1700}
// and a checker of the session guarantees cmo promises: read-your-writes, monotonic reads and
// causal order, and consistent prefix over declared dependencies (a write may name the version
// of another key it follows: {"depends_on":{"key":"p-1","lsn":7}} in its value). LSNs come from the
// single primary, so "version" comparisons are LSN comparisons; a read that found nothing reports
// lsn 0.
#ifndef CMO_TESTS_CHECKER_HISTORY_H_
#define CMO_TESTS_CHECKER_HISTORY_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cmo::checker {

struct HistoryOp {
  int process = 0;   // a session
  std::string type;  // invoke | ok | fail | info
  std::string f;     // read | write
  std::string key;
  std::string value;
  int64_t lsn = 0;   // write: the LSN assigned; read: the version returned (0: none)
  int64_t time = 0;  // nanoseconds, monotonic
  // Writes: the version of another key this one causally follows (a reply's post); none when
  // dep_key is empty.
  std::string dep_key = {};
  int64_t dep_lsn = 0;
};

// Collects the ops of many threads, each stamped with the time it was added.
class HistoryRecorder {
 public:
  void Add(HistoryOp op);
  std::vector<HistoryOp> ops() const;

 private:
  mutable std::mutex mu_;
  std::vector<HistoryOp> ops_;
};

std::string ToJsonLine(const HistoryOp& op);
// kInvalidArgument naming the line for anything that is not a history op.
absl::StatusOr<std::vector<HistoryOp>> ParseHistory(std::string_view jsonl);

struct Guarantees {
  bool read_your_writes = false;
  bool monotonic_reads = false;
  bool causal = false;
  // A session that read a version depending on (dep_key, dep_lsn) never reads dep_key older
  // than dep_lsn afterwards: no reply before its post.
  bool consistent_prefix = false;
};

struct Violation {
  // "read-your-writes", "monotonic-reads", "causal", "consistent-prefix"
  std::string guarantee;
  size_t index = 0;  // position of the offending read in the history
  std::string message;
};

// Checks the completed (type ok) operations, per process in history order.
std::vector<Violation> CheckHistory(const std::vector<HistoryOp>& history, const Guarantees& g);

}  // namespace cmo::checker

#endif  // CMO_TESTS_CHECKER_HISTORY_H_
