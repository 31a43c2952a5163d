#include "tests/e2e/cdc_app.h"

#include <map>
#include <nlohmann/json.hpp>

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::testing {

absl::StatusOr<std::unique_ptr<PgServer>> StartCdcServer() {
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<PgServer> pg, PgServer::Start());
  CMO_RETURN_IF_ERROR(pg->CreateDatabase("app"));
  CMO_RETURN_IF_ERROR(pg->CreateDatabase("replica"));
  return pg;
}

std::vector<shadow::CdcTable> CdcAppTables() {
  return {{"comments", "app.comments", {"id"}, "author"},
          {"follows", "app.follows", {"follower", "followee"}, ""}};
}

absl::Status CreateCdcApp(base::PgConnection& db, int rows) {
  return db.ExecScript(base::StrCat(R"(
    CREATE SCHEMA app;
    CREATE TABLE app.comments (id bigint PRIMARY KEY, author text NOT NULL, body text,
                               likes int NOT NULL DEFAULT 0, pinned boolean, meta jsonb,
                               price numeric(10, 2));
    CREATE TABLE app.follows (follower bigint, followee bigint, since int,
                              PRIMARY KEY (follower, followee));
    INSERT INTO app.comments SELECT g, 'user-' || (g % 97), 'comment ' || g, g % 7, g % 2 = 0,
                                    jsonb_build_object('n', g, 'tags', jsonb_build_array('a')),
                                    g / 3.0
                             FROM generate_series(1, )",
                                    rows, R"() g;
    INSERT INTO app.follows SELECT g % 50, g, g FROM generate_series(1, )",
                                    rows / 4, R"() g;
    CREATE PUBLICATION cmo_cdc FOR TABLE app.comments, app.follows;)"));
}

absl::Status CdcAppStep(base::PgConnection& db, std::mt19937_64& rng) {
  const int64_t id = static_cast<int64_t>(rng() % 5000) + 1;
  const std::string k = std::to_string(id);
  const std::string other = std::to_string(rng() % 5000 + 1);
  std::string sql;
  switch (rng() % 9) {
    case 0:
    case 1:
      sql = base::StrCat("INSERT INTO app.comments VALUES (", k, ", 'user-", id % 97, "', 'new ",
                         rng() % 1000, "', 0, NULL, NULL, 1.5) ON CONFLICT (id) ",
                         "DO UPDATE SET body = excluded.body");
      break;
    case 2:
      sql = base::StrCat(
          "UPDATE app.comments SET likes = likes + 1, pinned = NOT pinned "
          "WHERE id = ",
          k);
      break;
    case 3:
      sql = base::StrCat("DELETE FROM app.comments WHERE id = ", k);
      break;
    case 4:  // the key changes: the old key must disappear from replicas
      sql =
          base::StrCat("UPDATE app.comments SET id = ", id + 100000, " WHERE id = ", k,
                       " AND NOT EXISTS (SELECT 1 FROM app.comments WHERE id = ", id + 100000, ")");
      break;
    case 5:  // too big to stay inline, then another column changes: pgoutput leaves it out
      sql = base::StrCat(
          "UPDATE app.comments SET body = (SELECT string_agg(md5(random()::text), '') FROM "
          "generate_series(1, 200)) WHERE id = ",
          k,
          "; UPDATE app.comments SET likes = likes "
          "+ 10 WHERE id = ",
          k);
      break;
    case 6:  // several tables and keys in one transaction, a key changed twice in it
      sql = base::StrCat(
          "BEGIN; INSERT INTO app.follows VALUES (", id % 50, ", ", other,
          ", 1) ON CONFLICT DO "
          "NOTHING; UPDATE app.comments SET body = 'first' WHERE id = ",
          other,
          "; UPDATE app.comments SET body = 'second', meta = '{\"x\": [1, null]}' WHERE id = ",
          other, "; DELETE FROM app.follows WHERE follower = ", id % 50, " AND followee = ", k,
          "; COMMIT");
      break;
    case 7:
      sql = base::StrCat("DELETE FROM app.follows WHERE follower = ", id % 50,
                         " AND followee IN (SELECT followee FROM app.follows WHERE follower = ",
                         id % 50, " LIMIT 2)");
      break;
    default:
      sql = base::StrCat("BEGIN; DELETE FROM app.comments WHERE id = ", k,
                         "; INSERT INTO app.comments VALUES (", k,
                         ", 'user-1', 'again', 3, true, '[]', NULL); COMMIT");
  }
  return db.ExecScript(sql);
}

absl::StatusOr<int64_t> CdcCommittedBelow(base::PgConnection& db) {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db.Exec("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"));
  CMO_ASSIGN_OR_RETURN(int64_t lsn, r.Int(0, 0));
  return lsn - 1;
}

std::string CdcDiff(base::PgConnection& db, store::RowStore& replica) {
  const std::vector<std::pair<std::string, std::string>> queries = {
      {"comments", "SELECT id::text, row_to_json(t)::text FROM app.comments t"},
      {"follows",
       "SELECT json_build_array(follower, followee)::text, row_to_json(t)::text "
       "FROM app.follows t"}};
  std::string out;
  int differences = 0;
  for (const auto& [domain, sql] : queries) {
    auto canonical_key = [](const std::string& key) {
      if (key.empty() || key[0] != '[') return key;
      return nlohmann::json::parse(key).dump();
    };
    std::map<std::string, nlohmann::json> want, have;
    auto rows = db.Exec(sql);
    if (!rows.ok()) return std::string(rows.status().message());
    for (int r = 0; r < rows->rows(); ++r) {
      want[canonical_key(std::string(rows->Text(r, 0)))] = nlohmann::json::parse(rows->Text(r, 1));
    }
    absl::Status s = replica.Scan(domain, [&](uint32_t, const store::Row& row) {
      if (!row.tombstone) have[canonical_key(row.key)] = nlohmann::json::parse(row.value);
    });
    if (!s.ok()) return std::string(s.message());
    for (const auto& [key, value] : want) {
      auto it = have.find(key);
      if (it == have.end() || it->second != value) {
        if (++differences <= 5) {
          base::StrAppend(&out, domain, "/", key, ": source ", value.dump(), ", replica ",
                          it == have.end() ? "missing" : it->second.dump(), "\n");
        }
      }
    }
    for (const auto& [key, value] : have) {
      if (want.count(key) == 0 && ++differences <= 5) {
        base::StrAppend(&out, domain, "/", key, ": deleted at the source, replica ", value.dump(),
                        "\n");
      }
    }
  }
  if (differences > 0) base::StrAppend(&out, differences, " differences");
  return out;
}

}  // namespace cmo::testing
