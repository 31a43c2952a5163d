// Text pieces the report formats share (reconcile/report.cc, html_report.cc).
#ifndef CMO_RECONCILE_INTERNAL_REPORT_TEXT_H_
#define CMO_RECONCILE_INTERNAL_REPORT_TEXT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "reconcile/divergence_log.h"
#include "reconcile/report.h"

namespace cmo::reconcile::internal {

// "2026-12-07 00:50:00": how tables and CSV show a time (UTC, to the second).
std::string Stamp(absl::Time t);

// Text safe inside HTML elements and attribute values.
std::string Html(const std::string& s);

// The self-contained HTML report (html_report.cc).
std::string HtmlReport(const std::vector<DivergenceRecord>& records, const ReportContext& ctx);

}  // namespace cmo::reconcile::internal

#endif  // CMO_RECONCILE_INTERNAL_REPORT_TEXT_H_
