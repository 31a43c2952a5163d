// Histories of client operations in Jepsen's op shape, as JSON lines, so that external checkers
// (Elle, Porcupine) can read them too:
//   {"process":3,"type":"ok","f":"read","value":{"key":"k","value":"v","lsn":12},"time":1700}
// and a checker of the session guarantees cmo promises: read-your-writes, monotonic reads and
// causal order. LSNs come from the single primary, so "version" comparisons are LSN comparisons;
// a read that found nothing reports lsn 0.
#ifndef CMO_TESTS_CHECKER_HISTORY_H_
#define CMO_TESTS_CHECKER_HISTORY_H_

#include <cstdint>
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
};

std::string ToJsonLine(const HistoryOp& op);
// kInvalidArgument naming the line for anything that is not a history op.
absl::StatusOr<std::vector<HistoryOp>> ParseHistory(std::string_view jsonl);

struct Guarantees {
  bool read_your_writes = false;
  bool monotonic_reads = false;
  bool causal = false;
};

struct Violation {
  std::string guarantee;  // "read-your-writes", "monotonic-reads", "causal"
  size_t index = 0;       // position of the offending read in the history
  std::string message;
};

// Checks the completed (type ok) operations, per process in history order.
std::vector<Violation> CheckHistory(const std::vector<HistoryOp>& history, const Guarantees& g);

}  // namespace cmo::checker

#endif  // CMO_TESTS_CHECKER_HISTORY_H_
