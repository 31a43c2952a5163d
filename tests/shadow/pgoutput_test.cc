// pgoutput's wire format decoded from bytes built here by the manual's layout, and the rows it
// carries turned into change-event keys and values; no server (cdc_test.cc has one).
#include "shadow/pgoutput.h"

#include <string>

#include "base/pg_replication.h"
#include "gtest/gtest.h"
#include "shadow/cdc_row.h"
#include "tests/status_matchers.h"

namespace cmo::shadow {
namespace {

using ::cmo::testing::IsOkAndHolds;

// Big-endian fields, as the server sends them.
struct Bytes {
  std::string b;
  Bytes& Byte(char c) {
    b.push_back(c);
    return *this;
  }
  Bytes& Int(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  Bytes& Str(const std::string& s) {
    b += s;
    b.push_back('\0');
    return *this;
  }
  Bytes& Text(const std::string& s) {
    Byte('t');
    Int(s.size(), 4);
    b += s;
    return *this;
  }
};

TEST(PgLsnTest, ParsesAndFormatsPostgresTextForm) {
  EXPECT_THAT(base::ParsePgLsn("16/B374D848"), IsOkAndHolds(0x16B374D848));
  EXPECT_THAT(base::ParsePgLsn("0/0"), IsOkAndHolds(0));
  EXPECT_EQ(base::FormatPgLsn(0x16B374D848), "16/B374D848");
  for (const char* bad : {"", "16", "/1", "1/", "x/1", "1/2/3", "80000000/0", "1/ 2"}) {
    EXPECT_FALSE(base::ParsePgLsn(bad).ok()) << bad;
  }
}

TEST(PgoutputTest, DecodesATransactionOfEveryKindOfChange) {
  Bytes begin;
  begin.Byte('B').Int(0x1000, 8).Int(1'000'000, 8).Int(77, 4);
  auto b = pgoutput::Decode(begin.b);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->type, pgoutput::Message::Type::kBegin);
  EXPECT_EQ(b->lsn, 0x1000);
  EXPECT_EQ(b->xid, 77u);
  EXPECT_EQ(b->commit_unix_us, 946'684'800'000'000 + 1'000'000);  // PostgreSQL's epoch is 2000

  Bytes rel;
  rel.Byte('R').Int(16384, 4).Str("app").Str("comments").Byte('d').Int(2, 2);
  rel.Int(1, 1).Str("id").Int(20, 4).Int(0xFFFFFFFF, 4);
  rel.Int(0, 1).Str("body").Int(25, 4).Int(0xFFFFFFFF, 4);
  auto r = pgoutput::Decode(rel.b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->relation.schema, "app");
  EXPECT_EQ(r->relation.name, "comments");
  ASSERT_EQ(r->relation.columns.size(), 2u);
  EXPECT_TRUE(r->relation.columns[0].key);
  EXPECT_FALSE(r->relation.columns[1].key);
  EXPECT_EQ(r->relation.columns[1].type, 25u);

  Bytes upd;  // a key change: the old key, then the new row with a TOASTed value left out
  upd.Byte('U').Int(16384, 4).Byte('K').Int(2, 2).Text("5").Byte('n');
  upd.Byte('N').Int(2, 2).Text("6").Byte('u');
  auto u = pgoutput::Decode(upd.b);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->old_kind, 'K');
  EXPECT_EQ(u->old_tuple[0].text, "5");
  EXPECT_EQ(u->old_tuple[1].kind, pgoutput::Value::Kind::kNull);
  EXPECT_EQ(u->new_tuple[1].kind, pgoutput::Value::Kind::kUnchangedToast);

  Bytes del;
  del.Byte('D').Int(16384, 4).Byte('K').Int(2, 2).Text("6").Byte('n');
  auto d = pgoutput::Decode(del.b);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->type, pgoutput::Message::Type::kDelete);

  Bytes commit;
  commit.Byte('C').Int(0, 1).Int(0x1000, 8).Int(0x1030, 8).Int(1'000'000, 8);
  auto c = pgoutput::Decode(commit.b);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lsn, 0x1000);
  EXPECT_EQ(c->end_lsn, 0x1030);
}

TEST(PgoutputTest, RefusesEveryTruncationOfAMessageWithoutReadingPastIt) {
  Bytes ins;
  ins.Byte('I').Int(16384, 4).Byte('N').Int(2, 2).Text("42").Text("hello");
  ASSERT_TRUE(pgoutput::Decode(ins.b).ok());
  for (size_t n = 0; n < ins.b.size(); ++n) {
    EXPECT_FALSE(pgoutput::Decode(ins.b.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(pgoutput::Decode(ins.b + "x").ok());  // trailing bytes
  EXPECT_FALSE(pgoutput::Decode("Z").ok());          // unknown type
  Bytes huge;  // a WAL position no server writes (found by the fuzzer: it overflowed)
  huge.Byte('B').Int(0xFFFFFFFFFFFFFFFF, 8).Int(0x7FFFFFFFFFFFFFFF, 8).Int(1, 4);
  EXPECT_FALSE(pgoutput::Decode(huge.b).ok());
}

TEST(CdcRowTest, TypedColumnsBecomeJsonOfTheirKind) {
  const std::vector<CdcColumnValue> row = {{"id", 20, "42"},
                                           {"price", 1700, "12.50"},
                                           {"big", 1700, "123456789012345678901"},
                                           {"ratio", 701, "NaN"},
                                           {"ok", 16, "t"},
                                           {"meta", 3802, R"({"a": [1, 2]})"},
                                           {"body", 25, "say \"hi\"\n"},
                                           {"gone", 25, std::nullopt}};
  EXPECT_EQ(CdcRowJson(row),
            R"({"id":42,"price":12.50,"big":123456789012345678901,"ratio":"NaN","ok":true,)"
            R"("meta":{"a": [1, 2]},"body":"say \"hi\"\n","gone":null})");
  EXPECT_EQ(CdcKey({row[0]}), "42");
  EXPECT_EQ(CdcKey({row[0], row[6]}), R"([42,"say \"hi\"\n"])");
}

}  // namespace
}  // namespace cmo::shadow
