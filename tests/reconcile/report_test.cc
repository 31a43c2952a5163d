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

// JSON timestamps are RFC 3339 in UTC; records written in the older "YYYY-MM-DD HH:MM:SS"
// still read back.
TEST(Report, JsonTimesAreRfc3339AndOldOnesStillRead) {
  DivergenceRecord r;
  r.domain = "likes";
  r.key = "k";
  r.region = "eu-west";
  r.diff_class = "missing";
  r.detected_at = absl::FromUnixMillis(1796601600123);  // 2026-12-07T00:00:00.123Z
  r.healed_at = r.detected_at + absl::Seconds(2);
  const nlohmann::json j = RecordToJson(r);
  EXPECT_EQ(j["detected_at"], "2026-12-07T00:00:00.123Z");
  EXPECT_EQ(j["healed_at"], "2026-12-07T00:00:02.123Z");
  auto back = RecordFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->detected_at, r.detected_at);
  EXPECT_EQ(back->healed_at, r.healed_at);
  nlohmann::json old = j;
  old["detected_at"] = "2026-12-07 00:00:00";
  old["healed_at"] = nullptr;
  back = RecordFromJson(old);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->detected_at, absl::FromUnixSeconds(1796601600));
  old["detected_at"] = "yesterday";
  EXPECT_FALSE(RecordFromJson(old).ok());
  const nlohmann::json report = nlohmann::json::parse(
      RenderReport({r}, ReportFormat::kJson, {"t", absl::FromUnixSeconds(1796601600)}));
  EXPECT_EQ(report["generated_at"], "2026-12-07T00:00:00.000Z");
}

}  // namespace
}  // namespace cmo::reconcile
