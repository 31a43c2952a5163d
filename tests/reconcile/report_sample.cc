// Writes the HTML divergence report of N synthetic records (causes, users, ops and hours
// spread like a bad day's) to a file: what the report browser test opens.
//   report_sample N OUT.html
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "reconcile/report.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: report_sample N OUT.html\n");
    return 2;
  }
  const int n = std::atoi(argv[1]);
  const char* classes[] = {"lag", "lag", "lag", "missing", "stale", "resurrected"};
  const absl::Time start = absl::FromUnixSeconds(1796601600);
  std::vector<cmo::reconcile::DivergenceRecord> records;
  for (int i = 0; i < n; ++i) {
    cmo::reconcile::DivergenceRecord r;
    r.id = i + 1;
    r.domain = i % 3 == 0 ? "comments" : "likes";
    r.key = (i % 3 == 0 ? "c-" : "l-") + std::to_string(i);
    r.subject = "user-" + std::to_string(i % 997);
    r.op = i % 3 == 0 ? "comment.create" : "post.like";
    r.region = i % 2 == 0 ? "eu-west" : "us-east";
    r.diff_class = classes[i % 6];
    r.primary_lsn = 1000 + i;
    r.replica_lsn = r.diff_class == "missing" ? 0 : 999 + i;
    r.detected_by = i % 4 == 0 ? "shadow" : "reconciler";
    r.detected_at = start + absl::Seconds((i * 37) % (6 * 3600));  // over six hours
    if (i % 10 != 0) r.healed_at = r.detected_at + absl::Seconds(5);
    r.heal_action = r.diff_class == "lag" ? "converged (replication lag)" : "copied from primary";
    records.push_back(r);
  }
  std::ofstream(argv[2]) << cmo::reconcile::RenderReport(
      records, cmo::reconcile::ReportFormat::kHtml,
      {"Divergences, last 6 h (sample)", start + absl::Hours(6)});
  return 0;
}
