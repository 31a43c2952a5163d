// Reports support teams open in spreadsheets and browsers: a subject named like a formula is
// shown as text in CSV (it was a live =HYPERLINK), and HTML escapes markup.
#include "reconcile/report.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cmo::reconcile {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CsvCell, FormulaLikeCellsAreNeutralised) {
  EXPECT_EQ(CsvCell("user-42"), "user-42");
  EXPECT_EQ(CsvCell("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvCell("say \"hi\""), "\"say \"\"hi\"\"\"");
  for (const std::string evil :
       {"=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"}) {
    const std::string cell = CsvCell(evil);
    EXPECT_EQ(cell.substr(0, 2), "\"'") << evil;
  }
}

TEST(Report, CsvAndHtmlNeverCarryLiveContent) {
  DivergenceRecord r;
  r.subject = "=HYPERLINK(\"http://evil\",\"click\")";
  r.op = "post.like";
  r.domain = "likes";
  r.key = "<script>alert(1)</script>";
  r.region = "eu-west";
  r.diff_class = "missing";
  const std::vector<DivergenceRecord> records = {r};
  const std::string csv = RenderReport(records, ReportFormat::kCsv, {"t", absl::UnixEpoch()});
  EXPECT_THAT(csv, HasSubstr(",\"'=HYPERLINK("));
  EXPECT_THAT(csv, Not(HasSubstr(",=HYPERLINK(")));
  const std::string html = RenderReport(records, ReportFormat::kHtml, {"t", absl::UnixEpoch()});
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
}

}  // namespace
}  // namespace cmo::reconcile
