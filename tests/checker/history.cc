#include "tests/checker/history.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "base/strings.h"

namespace cmo::checker {

void HistoryRecorder::Add(HistoryOp op) {
  std::lock_guard<std::mutex> lock(mu_);
  op.time = absl::ToUnixNanos(absl::Now());
  ops_.push_back(std::move(op));
}

std::vector<HistoryOp> HistoryRecorder::ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ops_;
}

std::string ToJsonLine(const HistoryOp& op) {
  nlohmann::json value = {{"key", op.key}, {"value", op.value}, {"lsn", op.lsn}};
  if (!op.dep_key.empty()) value["depends_on"] = {{"key", op.dep_key}, {"lsn", op.dep_lsn}};
  return nlohmann::json{
      {"process", op.process}, {"type", op.type}, {"f", op.f}, {"value", value}, {"time", op.time}}
      .dump();
}

absl::StatusOr<std::vector<HistoryOp>> ParseHistory(std::string_view jsonl) {
  std::vector<HistoryOp> out;
  size_t line_no = 0;
  while (!jsonl.empty()) {
    const size_t nl = jsonl.find('\n');
    const std::string_view line = jsonl.substr(0, nl);
    jsonl = nl == std::string_view::npos ? std::string_view() : jsonl.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    const bool shaped = j.is_object() && j.contains("process") &&
                        j["process"].is_number_integer() && j.contains("type") &&
                        j["type"].is_string() && j.contains("f") && j["f"].is_string() &&
                        j.contains("value") && j["value"].is_object();
    if (!shaped) {
      return absl::InvalidArgumentError(
          base::StrCat("history line ", line_no, ": not an op {process, type, f, value, time}"));
    }
    HistoryOp op;
    op.process = j["process"].get<int>();
    op.type = j["type"].get<std::string>();
    op.f = j["f"].get<std::string>();
    const nlohmann::json& v = j["value"];
    op.key = v.value("key", "");
    op.value = v.value("value", "");
    op.lsn = v.value("lsn", int64_t{0});
    if (v.contains("depends_on") && v["depends_on"].is_object()) {
      op.dep_key = v["depends_on"].value("key", "");
      op.dep_lsn = v["depends_on"].value("lsn", int64_t{0});
    }
    op.time = j.value("time", int64_t{0});
    out.push_back(std::move(op));
  }
  return out;
}

std::vector<Violation> CheckHistory(const std::vector<HistoryOp>& history, const Guarantees& g) {
  // Every completed write's LSN per key, sorted: the causal check asks "which version of k
  // precedes what this session has seen", whichever process wrote it.
  std::map<std::string, std::vector<int64_t>> writes;
  for (const HistoryOp& op : history) {
    if (op.type == "ok" && op.f == "write") writes[op.key].push_back(op.lsn);
  }
  for (auto& [k, lsns] : writes) std::sort(lsns.begin(), lsns.end());
  // (key, lsn) of a completed write -> the version it follows.
  std::map<std::pair<std::string, int64_t>, std::pair<std::string, int64_t>> deps;
  for (const HistoryOp& op : history) {
    if (op.type == "ok" && op.f == "write" && !op.dep_key.empty()) {
      deps[{op.key, op.lsn}] = {op.dep_key, op.dep_lsn};
    }
  }

  struct Session {
    std::map<std::string, int64_t> own_write;  // key -> highest LSN this session wrote
    std::map<std::string, int64_t> last_read;  // key -> version last read
    int64_t observed = 0;                      // highest LSN seen or written
    // key -> (the lowest version the session may still see, the read that promised it)
    std::map<std::string, std::pair<int64_t, std::string>> owed;
  };
  std::map<int, Session> sessions;
  std::vector<Violation> out;
  for (size_t i = 0; i < history.size(); ++i) {
    const HistoryOp& op = history[i];
    if (op.type != "ok") continue;
    Session& s = sessions[op.process];
    if (op.f == "write") {
      s.own_write[op.key] = std::max(s.own_write[op.key], op.lsn);
      s.observed = std::max(s.observed, op.lsn);
      continue;
    }
    if (op.f != "read") continue;
    const std::string who =
        base::StrCat("process ", op.process, " read ", op.key, " at lsn ", op.lsn);
    if (g.read_your_writes && s.own_write.contains(op.key) && op.lsn < s.own_write[op.key]) {
      out.push_back({"read-your-writes", i,
                     base::StrCat(who, " after writing it at lsn ", s.own_write[op.key])});
    }
    if (g.monotonic_reads && s.last_read.contains(op.key) && op.lsn < s.last_read[op.key]) {
      out.push_back({"monotonic-reads", i,
                     base::StrCat(who, " after reading it at lsn ", s.last_read[op.key])});
    }
    if (g.causal) {
      const auto it = writes.find(op.key);
      if (it != writes.end()) {
        // The newest version of this key at or below what the session has observed.
        const auto up = std::upper_bound(it->second.begin(), it->second.end(), s.observed);
        if (up != it->second.begin() && op.lsn < *std::prev(up)) {
          out.push_back(
              {"causal", i,
               base::StrCat(who, " but had observed lsn ", s.observed, ", after which version ",
                            *std::prev(up), " of the key was visible")});
        }
      }
    }
    if (g.consistent_prefix) {
      const auto owed = s.owed.find(op.key);
      if (owed != s.owed.end() && op.lsn < owed->second.first) {
        out.push_back({"consistent-prefix", i,
                       base::StrCat(who, " after ", owed->second.second, ", which follows version ",
                                    owed->second.first, " of it")});
      }
      const auto dep = deps.find({op.key, op.lsn});
      if (dep != deps.end() && dep->second.second > s.owed[dep->second.first].first) {
        s.owed[dep->second.first] = {dep->second.second,
                                     base::StrCat("reading ", op.key, " at lsn ", op.lsn)};
      }
    }
    s.last_read[op.key] = std::max(s.last_read[op.key], op.lsn);
    s.observed = std::max(s.observed, op.lsn);
  }
  return out;
}

}  // namespace cmo::checker
