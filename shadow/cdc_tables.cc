#include "shadow/cdc_tables.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::shadow {
namespace {

std::pair<std::string, std::string> SplitName(std::string_view name) {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return {"public", std::string(name)};
  return {std::string(name.substr(0, dot)), std::string(name.substr(dot + 1))};
}

}  // namespace

std::vector<CdcColumnValue> CdcRowValues(const base::PgResult& r, int row, int first,
                                         const std::vector<CdcColumn>& columns) {
  std::vector<CdcColumnValue> out;
  out.reserve(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    const int at = first + static_cast<int>(c);
    std::optional<std::string_view> text;
    if (!r.IsNull(row, at)) text = r.Text(row, at);
    out.push_back({columns[c].name, columns[c].type, text});
  }
  return out;
}

absl::StatusOr<std::optional<std::vector<std::string>>> ReadCdcChunk(
    base::PgConnection& db, const CdcTableInfo& info,
    const std::optional<std::vector<std::string>>& after, int limit,
    const std::function<void(const std::vector<CdcColumnValue>&)>& fn) {
  std::string order, placeholders;
  for (size_t k = 0; k < info.key.size(); ++k) {
    base::StrAppend(&order, k == 0 ? "" : ", ", QuoteIdent(info.columns[info.key[k]].name));
    base::StrAppend(&placeholders, k == 0 ? "" : ", ", "$", k + 1);
  }
  std::string sql = base::StrCat("SELECT ", info.select_list, " FROM ", info.quoted_name);
  std::vector<base::PgParam> params;
  if (after.has_value()) {
    base::StrAppend(&sql, " WHERE (", order, ") > (", placeholders, ")");
    params.assign(after->begin(), after->end());
  }
  base::StrAppend(&sql, " ORDER BY ", order, " LIMIT ", limit);
  CMO_ASSIGN_OR_RETURN(base::PgResult rows, db.Exec(sql, params));
  std::optional<std::vector<std::string>> last;
  for (int r = 0; r < rows.rows(); ++r) {
    const std::vector<CdcColumnValue> values = CdcRowValues(rows, r, 0, info.columns);
    fn(values);
    if (r + 1 == rows.rows()) {
      last.emplace();
      for (int k : info.key) last->emplace_back(values[k].text.value_or(""));
    }
  }
  return last;
}

std::string QuoteIdent(std::string_view id) {
  std::string out = "\"";
  for (char c : id) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string QuoteTableName(std::string_view schema_dot_name) {
  const auto [schema, name] = SplitName(schema_dot_name);
  return base::StrCat(QuoteIdent(schema), ".", QuoteIdent(name));
}

absl::StatusOr<CdcTableInfo> DescribeCdcTable(base::PgConnection& db, const CdcTable& table) {
  CdcTableInfo info;
  info.table = table;
  info.quoted_name = QuoteTableName(table.table);
  const auto [schema, name] = SplitName(table.table);
  auto refuse = [&](std::string_view why) {
    return absl::FailedPreconditionError(
        base::StrCat("domain ", table.domain, ": table ", table.table, " ", why));
  };
  CMO_ASSIGN_OR_RETURN(base::PgResult rel,
                       db.Exec("SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n "
                               "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 "
                               "AND c.relkind IN ('r', 'p')",
                               {schema, name}));
  if (rel.rows() == 0) return refuse("does not exist (name it as schema.table)");
  const std::string oid(rel.Text(0, 0));
  const std::string identity(rel.Text(0, 1));
  // pgoutput leaves out generated columns: so does the snapshot.
  CMO_ASSIGN_OR_RETURN(
      base::PgResult cols,
      db.Exec("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1::oid AND "
              "attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
              {oid}));
  std::vector<CdcColumn> columns;
  for (int r = 0; r < cols.rows(); ++r) {
    CMO_ASSIGN_OR_RETURN(int64_t type, cols.Int(r, 1));
    columns.push_back({std::string(cols.Text(r, 0)), static_cast<uint32_t>(type)});
  }
  if (table.key.empty()) return refuse("has no key in the plan (source: {table, key: [id]})");
  CMO_RETURN_IF_ERROR(ReshapeCdcTable(info, std::move(columns)));
  if (identity == "n") {
    return refuse(base::StrCat(
        "has REPLICA IDENTITY NOTHING: its deletes carry no key, so replicas could not follow "
        "them. Run: ALTER TABLE ",
        info.quoted_name, " REPLICA IDENTITY DEFAULT"));
  }
  if (identity == "f") return info;  // deletes carry the whole old row, key included
  // DEFAULT: the primary key; INDEX: the index named by ALTER TABLE ... REPLICA IDENTITY.
  CMO_ASSIGN_OR_RETURN(
      base::PgResult idx,
      db.Exec(base::StrCat("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
                           "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE "
                           "i.indrelid = $1::oid AND i.",
                           identity == "i" ? "indisreplident" : "indisprimary"),
              {oid}));
  std::vector<std::string> want = table.key, have;
  for (int r = 0; r < idx.rows(); ++r) have.emplace_back(idx.Text(r, 0));
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  if (have.empty()) {
    return refuse(base::StrCat(
        "has no primary key, so its deletes carry no key. Add one, or run: ALTER TABLE ",
        info.quoted_name, " REPLICA IDENTITY FULL"));
  }
  if (want != have) {
    return refuse(base::StrCat("is keyed in the plan by [", base::StrJoin(table.key, ", "),
                               "] but its replica identity is [", base::StrJoin(have, ", "),
                               "]: name those columns as its key"));
  }
  return info;
}

absl::Status ReshapeCdcTable(CdcTableInfo& info, std::vector<CdcColumn> columns) {
  auto position = [&](const std::string& column) {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == column) return static_cast<int>(i);
    }
    return -1;
  };
  auto refuse = [&](const std::string& column, std::string_view as) {
    return absl::FailedPreconditionError(base::StrCat("domain ", info.table.domain, ": table ",
                                                      info.table.table, " has no column \"", column,
                                                      "\" (named ", as, ")"));
  };
  std::vector<int> key;
  for (const std::string& k : info.table.key) {
    key.push_back(position(k));
    if (key.back() < 0) return refuse(k, "in key");
  }
  int subject = -1;
  if (!info.table.subject.empty()) {
    subject = position(info.table.subject);
    if (subject < 0) return refuse(info.table.subject, "as subject");
  }
  info.select_list.clear();
  for (const CdcColumn& c : columns) {
    base::StrAppend(&info.select_list, info.select_list.empty() ? "" : ", ", QuoteIdent(c.name));
  }
  info.columns = std::move(columns);
  info.key = std::move(key);
  info.subject = subject;
  return absl::OkStatus();
}

absl::Status CheckPublication(base::PgConnection& db, const std::string& publication,
                              const std::vector<CdcTable>& tables) {
  std::string create;
  for (const CdcTable& t : tables) {
    base::StrAppend(&create, create.empty() ? "" : ", ", QuoteTableName(t.table));
  }
  CMO_ASSIGN_OR_RETURN(base::PgResult pub,
                       db.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {publication}));
  if (pub.rows() == 0) {
    return absl::FailedPreconditionError(
        base::StrCat("publication ", publication, " does not exist on the source; run: CREATE ",
                     "PUBLICATION ", QuoteIdent(publication), " FOR TABLE ", create));
  }
  CMO_ASSIGN_OR_RETURN(base::PgResult has,
                       db.Exec("SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                               "WHERE pubname = $1",
                               {publication}));
  for (const CdcTable& t : tables) {
    const std::string want = t.table.find('.') == std::string::npos ? "public." + t.table : t.table;
    bool found = false;
    for (int r = 0; r < has.rows() && !found; ++r) found = has.Text(r, 0) == want;
    if (!found) {
      return absl::FailedPreconditionError(
          base::StrCat("publication ", publication, " does not include ", want, " (domain ",
                       t.domain, "); run: ALTER PUBLICATION ", QuoteIdent(publication),
                       " ADD TABLE ", QuoteTableName(t.table)));
    }
  }
  return absl::OkStatus();
}

}  // namespace cmo::shadow
