// libFuzzer target for divergence records as the CLI reads them from a server (GET
// /v1/divergence): any JSON decodes to a record or an error, and a record renders in every
// report format without throwing; CSV never starts a cell with a formula character.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/time/clock.h"
#include "reconcile/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  const auto record = cmo::reconcile::RecordFromJson(j);
  if (!record.ok()) return 0;
  const std::vector<cmo::reconcile::DivergenceRecord> records = {*record};
  const cmo::reconcile::ReportContext ctx{"fuzz", absl::UnixEpoch()};
  for (auto format : {cmo::reconcile::ReportFormat::kTable, cmo::reconcile::ReportFormat::kJson,
                      cmo::reconcile::ReportFormat::kCsv, cmo::reconcile::ReportFormat::kHtml}) {
    (void)cmo::reconcile::RenderReport(records, format, ctx);
  }
  const std::string cell = cmo::reconcile::CsvCell(record->subject);
  if (!cell.empty() && std::string_view("=+-@").find(cell[0]) != std::string_view::npos) {
    __builtin_trap();
  }
  return 0;
}
