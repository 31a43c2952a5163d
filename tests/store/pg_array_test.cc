// Batch columns travel as binary arrays (PgArray): every element type, round-tripped through a
// real server and read back as text, comes back as it went in — bytes PostgreSQL's text array
// syntax would have to escape (quotes, backslashes, braces, NUL), the integer extremes, and
// the empty array, which has no dimension in the binary format.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/postgres.h"
#include "base/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/internal/pg_row_table.h"
#include "tests/fakes/pg_server.h"

namespace cmo::store::internal {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

class PgArrayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = cmo::testing::PgServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto db = base::PgConnection::Connect(server_->Uri());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  // The array's elements, in order, as the server prints them (`cast` to text).
  std::vector<std::string> RoundTrip(PgArray array, std::string_view element_type,
                                     std::string_view cast = "::text") {
    auto r =
        db_->Exec(PgStatementOf(base::StrCat("SELECT e", cast, " FROM unnest($1::", element_type,
                                             "[]) WITH ORDINALITY AS u(e, i) ORDER BY i"),
                                {std::move(array).Done()}));
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->Text(i, 0));
    return out;
  }
  std::unique_ptr<cmo::testing::PgServer> server_;
  std::unique_ptr<base::PgConnection> db_;
};

TEST_F(PgArrayTest, ByteaElementsKeepEveryByte) {
  const std::vector<std::string> in = {std::string("a\0b", 3), "\"{},\\", "", "\xff\xfe",
                                       std::string(3000, 'x')};
  PgArray a(PgArray::Type::kBytea);
  for (const std::string& s : in) a.Add(s);
  std::vector<std::string> want;
  for (const std::string& s : in) want.push_back(ByteaParam(s));  // the server's hex output
  EXPECT_THAT(RoundTrip(std::move(a), "bytea"), ElementsAreArray(want));
}

TEST_F(PgArrayTest, TextElementsNeedNoQuoting) {
  const std::vector<std::string> in = {"likes", "with \"quotes\", {braces} and \\", "", "NULL",
                                       "caf\xc3\xa9"};
  PgArray a(PgArray::Type::kText);
  for (const std::string& s : in) a.Add(s);
  EXPECT_THAT(RoundTrip(std::move(a), "text"), ElementsAreArray(in));
}

TEST_F(PgArrayTest, IntegersAndBooleansKeepTheirValues) {
  PgArray big(PgArray::Type::kInt8);
  for (int64_t v : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0},
                    std::numeric_limits<int64_t>::max()}) {
    big.Add(v);
  }
  EXPECT_THAT(RoundTrip(std::move(big), "bigint"),
              ElementsAreArray({"-9223372036854775808", "-1", "0", "9223372036854775807"}));
  PgArray small(PgArray::Type::kInt4);
  for (int64_t v : {int64_t{-2147483648}, int64_t{65535}, int64_t{2147483647}}) small.Add(v);
  EXPECT_THAT(RoundTrip(std::move(small), "int"),
              ElementsAreArray({"-2147483648", "65535", "2147483647"}));
  PgArray flags(PgArray::Type::kBool);
  flags.Add(true);
  flags.Add(false);
  EXPECT_THAT(RoundTrip(std::move(flags), "bool"), ElementsAreArray({"true", "false"}));
}

TEST_F(PgArrayTest, EmptyArraysAreEmpty) {
  EXPECT_THAT(RoundTrip(PgArray(PgArray::Type::kBytea), "bytea"), IsEmpty());
  EXPECT_THAT(RoundTrip(PgArray(PgArray::Type::kInt4), "int"), IsEmpty());
}

TEST_F(PgArrayTest, AnArrayOfTheWrongElementTypeIsRefusedNotMisread) {
  PgArray a(PgArray::Type::kInt8);
  a.Add(int64_t{7});
  auto r = db_->Exec(
      PgStatementOf("SELECT cardinality($1::int[])", {std::move(a).Done()}));  // int4 expected
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("instead of expected 23"));
}

TEST_F(PgArrayTest, TextAndBinaryParametersMixInOneStatement) {
  PgArray a(PgArray::Type::kInt8);
  a.Add(int64_t{40});
  a.Add(int64_t{2});
  auto r =
      db_->Exec(PgStatementOf("SELECT $1::bigint + (SELECT sum(e) FROM unnest($2::bigint[]) e)",
                              {std::string("100"), std::move(a).Done()}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Text(0, 0), "142");
}

}  // namespace
}  // namespace cmo::store::internal
