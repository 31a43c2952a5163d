#include "shadow/cdc_source_reader.h"

#include <nlohmann/json.hpp>

#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/cdc_row.h"

namespace cmo::shadow {

absl::StatusOr<std::vector<std::string>> CdcKeyTexts(std::string_view key, size_t columns) {
  if (columns == 1) return std::vector<std::string>{std::string(key)};
  const nlohmann::json j = nlohmann::json::parse(key, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array() || j.size() != columns) {
    return absl::InvalidArgumentError(base::StrCat("key ", key, " does not name the table's ",
                                                   columns, " key columns (a JSON array)"));
  }
  std::vector<std::string> out;
  for (const nlohmann::json& v : j) {
    if (v.is_null()) return absl::InvalidArgumentError("a key column cannot be null");
    out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

CdcSourceReader::CdcSourceReader(std::string source, std::vector<CdcTable> tables)
    : source_(std::move(source)),
      tables_(std::move(tables)),
      pool_([]() -> absl::StatusOr<std::unique_ptr<Connection>> {
        return std::make_unique<Connection>();  // connects on first use
      }) {}

bool CdcSourceReader::Follows(std::string_view domain) const {
  for (const CdcTable& t : tables_) {
    if (t.domain == domain) return true;
  }
  return false;
}

absl::StatusOr<const CdcSourceReader::Table*> CdcSourceReader::Describe(base::PgConnection& db,
                                                                        const CdcTable& t) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = described_.find(t.domain);
  if (it != described_.end()) return it->second.get();
  CMO_ASSIGN_OR_RETURN(CdcTableInfo info, DescribeCdcTable(db, t));
  auto table = std::make_unique<Table>();
  std::string where;
  for (size_t k = 0; k < info.key.size(); ++k) {
    base::StrAppend(&where, k == 0 ? "" : " AND ", QuoteIdent(info.columns[info.key[k]].name),
                    " = $", k + 1);
  }
  // One row always: the read position, then the row's columns (NULL when there is no row;
  // key columns are never NULL in a row that exists). The position is taken during the
  // statement, so after its snapshot: every commit the row reflects is below it.
  table->sql = base::StrCat(
      "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, t.* FROM (SELECT) one "
      "LEFT JOIN (SELECT ",
      info.select_list, " FROM ", info.quoted_name, " WHERE ", where, ") t ON true");
  table->info = std::move(info);
  const Table* out = table.get();
  described_[t.domain] = std::move(table);
  return out;
}

absl::StatusOr<std::optional<store::Row>> CdcSourceReader::Get(std::string_view domain,
                                                               std::string_view key) {
  const CdcTable* followed = nullptr;
  for (const CdcTable& t : tables_) {
    if (t.domain == domain) followed = &t;
  }
  if (followed == nullptr) {
    return absl::NotFoundError(base::StrCat("domain ", domain, " is not followed by CDC"));
  }
  return pool_.With([&](Connection& c) -> absl::StatusOr<std::optional<store::Row>> {
    if (c.db == nullptr || !c.db->ok()) {
      c.db.reset();
      CMO_ASSIGN_OR_RETURN(c.db, base::PgConnection::Connect(source_));
    }
    CMO_ASSIGN_OR_RETURN(const Table* table, Describe(*c.db, *followed));
    const CdcTableInfo& info = table->info;
    CMO_ASSIGN_OR_RETURN(std::vector<std::string> texts, CdcKeyTexts(key, info.key.size()));
    std::vector<base::PgParam> params(texts.begin(), texts.end());
    absl::StatusOr<base::PgResult> r = c.db->Exec(table->sql, params);
    if (!r.ok()) {
      // A key of the wrong type is the caller's; anything else may have broken the connection.
      if (!absl::IsUnavailable(r.status())) {
        return absl::InvalidArgumentError(base::StrCat("reading ", info.table.table, " by key ",
                                                       key, ": ", r.status().message()));
      }
      return r.status();
    }
    CMO_ASSIGN_OR_RETURN(int64_t position, r->Int(0, 0));
    store::Row row;
    row.domain = std::string(domain);
    row.key = std::string(key);
    row.lsn = position - 1;
    if (r->IsNull(0, 1 + info.key.front())) {
      row.tombstone = true;
      return row;
    }
    const std::vector<CdcColumnValue> all = CdcRowValues(*r, 0, 1, info.columns);
    row.value = CdcRowJson(all);
    if (info.subject >= 0) row.subject = std::string(all[info.subject].text.value_or(""));
    row.op = info.table.table;
    return row;
  });
}

}  // namespace cmo::shadow
