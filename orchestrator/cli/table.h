// Column-aligned text tables for the CLI's default (table) output.
#ifndef CMO_ORCHESTRATOR_CLI_TABLE_H_
#define CMO_ORCHESTRATOR_CLI_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace cmo::orchestrator {

// Collects rows, then prints them with each column padded to its widest cell. Not thread-safe.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_CLI_TABLE_H_
