// Divergence reports for support teams: each record of the divergence log told in plain words
// ("comment c-123 was missing in eu-west: replication lag, caught up by itself by 10:02:11"),
// as a table, JSON, CSV, or one self-contained HTML file (no external assets: a timeline
// histogram with a legend, groups per cause, user and hour, and items in pages), readable at
// any count. Values are never shown — the log does not hold them.
#ifndef CMO_RECONCILE_REPORT_H_
#define CMO_RECONCILE_REPORT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "reconcile/divergence_log.h"

namespace cmo::reconcile {

enum class ReportFormat { kTable, kJson, kCsv, kHtml };
absl::StatusOr<ReportFormat> ParseReportFormat(std::string_view text);

// One sentence about one record (times in UTC).
std::string Describe(const DivergenceRecord& r);

// One CSV cell, quoted as needed, with formula-like text (= + - @) neutralised by a leading '.
std::string CsvCell(const std::string& s);

struct ReportContext {
  std::string title;  // e.g. "Divergences for user-42 since 2026-11-23 10:00"
  absl::Time generated = absl::UnixEpoch();
};

// The JSON of one record in a report (and in GET /v1/divergence), and back; times in RFC 3339
// to the millisecond.
nlohmann::json RecordToJson(const DivergenceRecord& r);
absl::StatusOr<DivergenceRecord> RecordFromJson(const nlohmann::json& j);

std::string RenderReport(const std::vector<DivergenceRecord>& records, ReportFormat format,
                         const ReportContext& context);

}  // namespace cmo::reconcile

#endif  // CMO_RECONCILE_REPORT_H_
