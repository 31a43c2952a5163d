#include "reconcile/report.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "base/json.h"
#include "base/strings.h"
#include "base/time_text.h"
#include "nlohmann/json.hpp"
#include "reconcile/internal/report_text.h"

namespace cmo::reconcile {
namespace {

using internal::Stamp;

std::string Clock(absl::Time t) { return absl::FormatTime("%H:%M:%S", t, absl::UTCTimeZone()); }

// "comments" -> "comment": what a support engineer calls one item of the domain.
std::string Noun(const std::string& domain) {
  if (domain.size() > 1 && domain.back() == 's') return domain.substr(0, domain.size() - 1);
  return domain;
}

std::string Outcome(const DivergenceRecord& r) {
  if (!r.healed_at.has_value()) {
    return "not repaired yet: the next reconciliation pass repairs it";
  }
  if (r.heal_action == "converged (replication lag)") {
    return base::StrCat("replication lag, caught up by itself by ", Clock(*r.healed_at));
  }
  const std::string by = r.detected_by == "shadow" ? "a targeted repair" : "reconciliation";
  return base::StrCat("repaired by ", by, " at ", Clock(*r.healed_at), " (", r.heal_action, ")");
}

std::string What(const DivergenceRecord& r) {
  const std::string& c = r.diff_class;
  if (c == "lag" || c == "stale") return "was out of date";
  if (c == "missing") return "was missing";
  if (c == "resurrected") return "was deleted but still visible";
  if (c == "replica_newer") return "had a version that was never written to the primary";
  return "differed";
}

}  // namespace

// A cell a spreadsheet opens as text: quoted when it holds a separator, and prefixed with ' when
// it starts like a formula (= + - @, or a tab/CR that some spreadsheets skip before one), so a
// subject named `=HYPERLINK(...)` is shown, never evaluated (OWASP's CSV injection advice).
std::string CsvCell(const std::string& s) {
  const bool formula =
      !s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos;
  if (!formula && s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = formula ? "\"'" : "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

nlohmann::json RecordToJson(const DivergenceRecord& r) {
  return {{"id", r.id},
          {"domain", r.domain},
          {"key", r.key},
          {"subject", r.subject},
          {"op", r.op},
          {"class", r.diff_class},
          {"region", r.region},
          {"primary_lsn", r.primary_lsn},
          {"replica_lsn", r.replica_lsn},
          {"partition", r.partition},
          {"offset", r.offset},
          {"primary_digest", r.primary_digest},
          {"replica_digest", r.replica_digest},
          {"detected_by", r.detected_by},
          {"detected_at", base::Rfc3339(r.detected_at)},
          {"healed_at", r.healed_at.has_value() ? nlohmann::json(base::Rfc3339(*r.healed_at))
                                                : nlohmann::json(nullptr)},
          {"heal_action", r.heal_action},
          {"summary", Describe(r)}};
}

absl::StatusOr<DivergenceRecord> RecordFromJson(const nlohmann::json& j) {
  // RFC 3339, or the "YYYY-MM-DD HH:MM:SS" (UTC) of reports written before it.
  auto time = [](const nlohmann::json& v, absl::Time* out) {
    std::string err;
    return v.is_string() && (base::ParseRfc3339(v.get<std::string>(), out) ||
                             absl::ParseTime("%Y-%m-%d %H:%M:%S", v.get<std::string>(),
                                             absl::UTCTimeZone(), out, &err));
  };
  try {
    DivergenceRecord r;
    r.id = base::JsonInt(j.at("id"));
    r.domain = j.at("domain").get<std::string>();
    r.key = j.at("key").get<std::string>();
    r.subject = j.at("subject").get<std::string>();
    r.op = j.at("op").get<std::string>();
    r.diff_class = j.at("class").get<std::string>();
    r.region = j.at("region").get<std::string>();
    r.primary_lsn = base::JsonInt(j.at("primary_lsn"));
    r.replica_lsn = base::JsonInt(j.at("replica_lsn"));
    const int64_t partition = base::JsonInt(j.at("partition"));
    if (partition < INT32_MIN || partition > INT32_MAX) throw std::out_of_range("partition");
    r.partition = static_cast<int32_t>(partition);
    r.offset = base::JsonInt(j.at("offset"));
    r.primary_digest = j.at("primary_digest").get<std::string>();
    r.replica_digest = j.at("replica_digest").get<std::string>();
    r.detected_by = j.at("detected_by").get<std::string>();
    r.heal_action = j.at("heal_action").get<std::string>();
    if (!time(j.at("detected_at"), &r.detected_at)) {
      return absl::InvalidArgumentError("divergence record: detected_at is not a time");
    }
    if (absl::Time healed; time(j.at("healed_at"), &healed)) r.healed_at = healed;
    return r;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(base::StrCat("divergence record: ", e.what()));
  }
}

absl::StatusOr<ReportFormat> ParseReportFormat(std::string_view text) {
  if (text == "table") return ReportFormat::kTable;
  if (text == "json") return ReportFormat::kJson;
  if (text == "csv") return ReportFormat::kCsv;
  if (text == "html") return ReportFormat::kHtml;
  return absl::InvalidArgumentError(
      base::StrCat("unknown report format \"", text, "\"; use table, json, csv or html"));
}

std::string Describe(const DivergenceRecord& r) {
  return base::StrCat(Noun(r.domain), " ", r.key, " ", What(r), " in ", r.region, " at ",
                      Clock(r.detected_at), ": ", Outcome(r));
}

std::string RenderReport(const std::vector<DivergenceRecord>& records, ReportFormat format,
                         const ReportContext& ctx) {
  std::ostringstream out;
  switch (format) {
    case ReportFormat::kJson: {
      nlohmann::json items = nlohmann::json::array();
      for (const DivergenceRecord& r : records) items.push_back(RecordToJson(r));
      out << base::JsonText(nlohmann::json{{"title", ctx.title},
                                           {"generated_at", base::Rfc3339(ctx.generated)},
                                           {"count", records.size()},
                                           {"items", items}},
                            2)
          << "\n";
      break;
    }
    case ReportFormat::kCsv:
      out << "detected_at,subject,op,domain,key,region,class,primary_lsn,replica_lsn,partition,"
             "detected_by,healed_at,heal_action,summary\n";
      for (const DivergenceRecord& r : records) {
        out << Stamp(r.detected_at) << "," << CsvCell(r.subject) << "," << CsvCell(r.op) << ","
            << CsvCell(r.domain) << "," << CsvCell(r.key) << "," << CsvCell(r.region) << ","
            << r.diff_class << "," << r.primary_lsn << "," << r.replica_lsn << "," << r.partition
            << "," << r.detected_by << "," << (r.healed_at ? Stamp(*r.healed_at) : "") << ","
            << CsvCell(r.heal_action) << "," << CsvCell(Describe(r)) << "\n";
      }
      break;
    case ReportFormat::kTable:
      out << ctx.title << "\n";
      if (records.empty()) out << "No divergences in this period.\n";
      for (const DivergenceRecord& r : records) {
        out << "- " << Describe(r);
        if (!r.subject.empty() || !r.op.empty()) {
          out << " [" << (r.subject.empty() ? "" : "user " + r.subject)
              << (r.op.empty() ? "" : (r.subject.empty() ? "op " : ", op ") + r.op) << "]";
        }
        out << "\n";
      }
      break;
    case ReportFormat::kHtml:
      out << internal::HtmlReport(records, ctx);
      break;
  }
  return out.str();
}

namespace internal {

std::string Stamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::UTCTimeZone());
}

std::string Html(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

}  // namespace internal
}  // namespace cmo::reconcile
