// The HTML divergence report: one self-contained file a support engineer opens in a browser.
// It stays the same size on screen whatever the count: the timeline is a histogram of fixed
// height (not a row per item), the groups show their largest entries, and the items table is
// paged (all rows are in the file; a few lines of inline script show one page at a time).
#include <algorithm>
#include <array>
#include <map>
#include <sstream>

#include "reconcile/internal/report_text.h"

namespace cmo::reconcile::internal {
namespace {

constexpr int kBins = 48;       // timeline columns
constexpr int kTopGroups = 20;  // rows per group table; the rest are summed in one line
constexpr int kPageRows = 100;  // items per page

struct Cause {
  const char* name;
  const char* label;
  const char* color;
};
// The causes in legend order; anything else is "other".
constexpr Cause kCauses[] = {
    {"lag", "out of date (replication lag)", "#e0a800"},
    {"stale", "out of date (stale version)", "#f0ad4e"},
    {"missing", "missing on the replica", "#d9534f"},
    {"resurrected", "deleted but still visible", "#8e44ad"},
    {"replica_newer", "version never written to the primary", "#2c3e50"},
    {"other", "other difference", "#7f8c8d"},
};
constexpr int kCauseCount = sizeof(kCauses) / sizeof(kCauses[0]);

int CauseOf(const std::string& diff_class) {
  for (int i = 0; i < kCauseCount - 1; ++i) {
    if (diff_class == kCauses[i].name) return i;
  }
  return kCauseCount - 1;
}

std::string Legend() {
  std::ostringstream out;
  out << "<p class=\"legend\">";
  for (const Cause& c : kCauses) {
    out << "<span><i style=\"background:" << c.color << "\"></i>" << c.label << "</span>";
  }
  out << "</p>";
  return out.str();
}

// A stacked histogram of detections over time: kBins columns, one colour per cause.
std::string Timeline(const std::vector<DivergenceRecord>& records) {
  if (records.empty()) return "<p>No divergences in this period.</p>";
  absl::Time lo = records.front().detected_at, hi = lo;
  for (const DivergenceRecord& r : records) {
    lo = std::min(lo, r.detected_at);
    hi = std::max(hi, r.detected_at);
  }
  const absl::Duration span = std::max(hi - lo, absl::Seconds(1));
  std::vector<std::array<int, kCauseCount>> bins(kBins);
  for (const DivergenceRecord& r : records) {
    const int b =
        std::min(kBins - 1, static_cast<int>(kBins * absl::FDivDuration(r.detected_at - lo, span)));
    ++bins[b][CauseOf(r.diff_class)];
  }
  int peak = 1;
  for (const auto& bin : bins) {
    int n = 0;
    for (int c : bin) n += c;
    peak = std::max(peak, n);
  }
  constexpr int kWidth = 900, kHeight = 160, kTop = 20, kBottom = 20, kLeft = 40;
  const double col = static_cast<double>(kWidth - kLeft - 10) / kBins;
  const double unit = static_cast<double>(kHeight - kTop - kBottom) / peak;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" role=\"img\" aria-label=\"divergences detected over time\">";
  svg << "<text x=\"" << kLeft - 4 << "\" y=\"" << kTop + 4
      << "\" font-size=\"11\" text-anchor=\"end\">" << peak << "</text>";
  svg << "<text x=\"" << kLeft - 4 << "\" y=\"" << kHeight - kBottom
      << "\" font-size=\"11\" text-anchor=\"end\">0</text>";
  svg << "<line x1=\"" << kLeft << "\" y1=\"" << kHeight - kBottom << "\" x2=\"" << kWidth - 10
      << "\" y2=\"" << kHeight - kBottom << "\" stroke=\"#999\"/>";
  for (int b = 0; b < kBins; ++b) {
    double y = kHeight - kBottom;
    int total = 0;
    for (int c = 0; c < kCauseCount; ++c) total += bins[b][c];
    for (int c = 0; c < kCauseCount; ++c) {
      if (bins[b][c] == 0) continue;
      const double h = bins[b][c] * unit;
      y -= h;
      svg << "<rect x=\"" << kLeft + b * col + 1 << "\" y=\"" << y << "\" width=\"" << col - 2
          << "\" height=\"" << h << "\" fill=\"" << kCauses[c].color << "\"><title>" << bins[b][c]
          << " " << kCauses[c].label << " (" << total << " in this interval)"
          << "</title></rect>";
    }
  }
  svg << "<text x=\"" << kLeft << "\" y=\"" << kHeight - 4 << "\" font-size=\"11\">" << Stamp(lo)
      << " UTC</text><text x=\"" << kWidth - 10 << "\" y=\"" << kHeight - 4
      << "\" font-size=\"11\" text-anchor=\"end\">" << Stamp(hi) << " UTC</text></svg>";
  return svg.str();
}

// A group table: count and repaired per key, largest first, the rest summed in one row.
std::string Group(const char* title, const char* column,
                  const std::map<std::string, std::pair<int, int>>& counts, bool by_key) {
  std::vector<std::pair<std::string, std::pair<int, int>>> rows(counts.begin(), counts.end());
  if (!by_key) {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  }
  std::ostringstream out;
  out << "<div class=\"group\"><h3>" << title << "</h3><table><tr><th>" << column
      << "</th><th>items</th><th>repaired</th></tr>";
  int shown = 0, rest_items = 0, rest_repaired = 0, rest_keys = 0;
  for (const auto& [key, n] : rows) {
    if (shown < kTopGroups) {
      out << "<tr><td>" << Html(key.empty() ? "(none)" : key) << "</td><td>" << n.first
          << "</td><td>" << n.second << "</td></tr>";
      ++shown;
    } else {
      ++rest_keys;
      rest_items += n.first;
      rest_repaired += n.second;
    }
  }
  if (rest_keys > 0) {
    out << "<tr class=\"muted\"><td>" << rest_keys << " more</td><td>" << rest_items << "</td><td>"
        << rest_repaired << "</td></tr>";
  }
  out << "</table></div>";
  return out.str();
}

constexpr char kStyle[] =
    "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;font-size:14px}th{background:#f4f4f4}.muted{color:#777}"
    ".legend span{margin-right:14px;font-size:13px;white-space:nowrap}"
    ".legend i{display:inline-block;width:11px;height:11px;margin-right:4px;"
    "vertical-align:middle}.groups{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}"
    "#items tr.item{display:none}#items tr.item.on{display:table-row}"
    "#pager button{font:inherit;padding:2px 10px}";

// Shows page N of the items table; all rows are in the file, so search and print work too.
constexpr char kPagerScript[] =
    "<script>(function(){const rows=[...document.querySelectorAll('#items tr.item')];"
    "const per=Number(document.getElementById('items').dataset.per);"
    "const pages=Math.max(1,Math.ceil(rows.length/per));let page=0;"
    "const info=document.getElementById('page');"
    "function show(p){page=Math.max(0,Math.min(pages-1,p));rows.forEach((r,i)=>"
    "r.classList.toggle('on',Math.floor(i/per)===page));"
    "info.textContent='page '+(page+1)+' of '+pages+' ('+rows.length+' items)';}"
    "document.getElementById('prev').onclick=()=>show(page-1);"
    "document.getElementById('next').onclick=()=>show(page+1);show(0);})();</script>";

}  // namespace

std::string HtmlReport(const std::vector<DivergenceRecord>& records, const ReportContext& ctx) {
  std::map<std::string, std::pair<int, int>> by_cause, by_user, by_op, by_hour;
  for (const DivergenceRecord& r : records) {
    const int healed = r.healed_at.has_value() ? 1 : 0;
    auto count = [healed](std::pair<int, int>& n) {
      ++n.first;
      n.second += healed;
    };
    count(by_cause[kCauses[CauseOf(r.diff_class)].label]);
    count(by_user[r.subject]);
    count(by_op[r.op]);
    count(by_hour[absl::FormatTime("%Y-%m-%d %H:00", r.detected_at, absl::UTCTimeZone())]);
  }
  int repaired = 0;
  for (const auto& [cause, n] : by_cause) repaired += n.second;
  std::ostringstream out;
  out << "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << Html(ctx.title)
      << "</title><style>" << kStyle << "</style></head><body>";
  out << "<h1>" << Html(ctx.title) << "</h1><p>Generated " << Stamp(ctx.generated)
      << " UTC by cmo. " << records.size() << " item(s), " << repaired
      << " repaired. Values are never included: only versions and digests.</p>";
  out << "<h2>When</h2>" << Legend() << Timeline(records);
  out << "<h2>Groups</h2><div class=\"groups\">" << Group("By cause", "cause", by_cause, false)
      << Group("By user", "user", by_user, false) << Group("By op", "op", by_op, false)
      << Group("By hour (UTC)", "hour", by_hour, true) << "</div>";
  out << "<h2>Items</h2><p id=\"pager\"><button id=\"prev\">&larr; previous</button> "
         "<span id=\"page\"></span> <button id=\"next\">next &rarr;</button></p>"
         "<table id=\"items\" data-per=\""
      << kPageRows
      << "\"><tr><th>detected (UTC)</th><th>user</th><th>op</th>"
         "<th>what happened</th><th>versions (primary / replica)</th></tr>";
  for (const DivergenceRecord& r : records) {
    out << "<tr class=\"item\"><td>" << Stamp(r.detected_at) << "</td><td>" << Html(r.subject)
        << "</td><td>" << Html(r.op) << "</td><td>" << Html(Describe(r)) << "</td><td>"
        << r.primary_lsn << " / " << r.replica_lsn << "</td></tr>";
  }
  out << "</table>" << kPagerScript << "</body></html>\n";
  return out.str();
}

}  // namespace cmo::reconcile::internal
