#include "shadow/cdc_relay.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/json.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/cdc_row.h"
#include "shadow/cdc_tables.h"
#include "shadow/change_event.h"

namespace cmo::shadow {
namespace {

// A change of the transaction being received, before it is sent.
struct PendingChange {
  store::OutboxEntry entry;
  // The new row has a TOASTed column pgoutput left out (unchanged): read the row instead, by
  // its key columns' texts.
  bool refetch = false;
  std::vector<std::string> key_texts;
  int table = -1;
};

// Changes sent together (a transaction, or a snapshot chunk), until Kafka acknowledged them.
struct InFlight {
  int64_t lsn = 0;  // their version
  int remaining = 0;
};

// cmo's tables on the source, created by the relay and by appliers filing requests, maybe at
// once: CREATE ... IF NOT EXISTS races with itself (a unique violation in the catalog), so the
// creators take turns under an advisory lock.
std::string CreateStateTables(const std::string& schema) {
  const std::string s = QuoteIdent(schema);
  return base::StrCat(
      "BEGIN; SELECT pg_advisory_xact_lock(hashtext('cmo.cdc_state')); CREATE SCHEMA IF NOT "
      "EXISTS ",
      s, "; CREATE TABLE IF NOT EXISTS ", s,
      ".cdc_requests (slot text PRIMARY KEY, requested bigint NOT NULL); CREATE TABLE IF NOT "
      "EXISTS ",
      s,
      ".cdc_snapshot (slot text NOT NULL, table_name text NOT NULL, snapshot_lsn "
      "bigint NOT NULL, after_key text, done boolean NOT NULL, PRIMARY KEY (slot, table_name)); "
      "COMMIT");
}

}  // namespace

struct CdcRelay::Impl {
  std::string source;
  OutboxRelay::EnsureTopic ensure_topic;
  OutboxRelay::MinApplied min_applied;
  const base::Clock& clock;
  CdcOptions options;
  CdcMetrics* metrics = nullptr;

  std::unique_ptr<base::PgConnection> state;     // progress, catalog, refetches
  std::unique_ptr<base::PgConnection> snapshot;  // the snapshot's transaction
  std::unique_ptr<base::PgReplicationStream> stream;
  std::unique_ptr<base::KafkaProducer> producer;
  std::vector<CdcTableInfo> tables;
  std::map<std::string, int> partitions;  // change topic -> partitions

  // The slot's relation OIDs -> index in `tables` (-1: a table the plan does not follow).
  std::map<uint32_t, int> relations;
  bool in_transaction = false;
  int64_t txn_lsn = 0;
  absl::Time txn_time;
  std::vector<PendingChange> txn;
  std::map<std::string, size_t> txn_index;  // domain \0 key -> position in txn (last wins)

  uint64_t next_id = 1;          // delivery-report tags; 0 is a heartbeat
  bool restart = false;          // stream again from the slot (a delivery failed, a request)
  bool snapshot_failed = false;  // a snapshot row was not delivered: read its chunk again
  bool streaming = false;        // START_REPLICATION was sent on `stream`
  std::map<uint64_t, InFlight> in_flight;  // by id: in commit order
  int in_flight_changes = 0;
  int64_t received_below = 0;  // every commit below was received
  int64_t confirmed = 0;       // the last confirmed position sent to the slot
  int64_t applied = -1;        // min_applied's last answer (-1: none yet)
  int64_t heartbeat_lsn = -1;
  absl::Time last_heartbeat = absl::InfinitePast();
  absl::Time last_status = absl::InfinitePast();
  absl::Time last_retention = absl::InfinitePast();
  absl::Time last_retention_warning = absl::InfinitePast();

  // Snapshot: per table, the key (its columns' texts) after which it continues; done tables.
  int64_t snapshot_lsn = 0;
  bool snapshot_done = false;
  std::vector<std::optional<std::vector<std::string>>> snapshot_after;
  std::vector<bool> table_done;
  std::string exported;  // the slot's exported snapshot, until the snapshot opens it
  absl::Time throttle_from = absl::InfinitePast();
  double throttle_rows = 0;

  Impl(std::string src, OutboxRelay::EnsureTopic ensure, OutboxRelay::MinApplied applied,
       const base::Clock& c, CdcOptions o)
      : source(std::move(src)),
        ensure_topic(std::move(ensure)),
        min_applied(std::move(applied)),
        clock(c),
        options(std::move(o)) {}

  std::string StateTable() const { return QuoteIdent(options.state_schema) + ".cdc_snapshot"; }
  int64_t answered = 0;  // the latest re-publication request answered (heartbeats carry it)
  absl::Time last_request_check = absl::InfinitePast();

  absl::StatusOr<int> Partitions(const std::string& topic) {
    auto it = partitions.find(topic);
    if (it != partitions.end()) return it->second;
    CMO_ASSIGN_OR_RETURN(int n, ensure_topic(topic));
    if (n <= 0) return absl::InternalError(base::StrCat("topic ", topic, " has no partitions"));
    partitions[topic] = n;
    return n;
  }

  absl::Status Connect();
  absl::Status LoadOrCreateSlot();
  absl::Status ResetSnapshot();
  absl::Status CheckRequests(absl::Time now);
  absl::Status StartStream();
  absl::Status SnapshotStep(int timeout_ms);
  absl::Status StreamStep(int timeout_ms);
  absl::Status OnMessage(const base::PgStreamMessage& m);
  absl::Status OnRowChange(const pgoutput::Message& m);
  absl::Status SendTransaction();
  absl::Status Publish(std::vector<store::OutboxEntry> entries, int64_t lsn);
  absl::Status Refetch(PendingChange& change);
  void OnDelivery(const base::DeliveryReport& r);
  int64_t Claim() const {
    if (!snapshot_done) return 0;
    return (in_flight.empty() ? received_below : in_flight.begin()->second.lsn) - 1;
  }
  absl::Status Heartbeats(absl::Time now);
  absl::Status Status(absl::Time now, bool force);
  absl::Status CheckRetention(absl::Time now);
  void DropStream() {
    stream.reset();
    ResetStreamState();
  }
  // What a new START_REPLICATION starts from: the slot's confirmed position.
  void ResetStreamState() {
    streaming = false;
    restart = false;
    in_flight.clear();  // what they held is streamed again from the slot
    in_flight_changes = 0;
    in_transaction = false;
    relations.clear();
    received_below = confirmed;
  }
};

absl::Status CdcRelay::Impl::Connect() {
  if (state == nullptr || !state->ok()) {
    CMO_ASSIGN_OR_RETURN(state, base::PgConnection::Connect(source));
  }
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::LoadOrCreateSlot() {
  CMO_RETURN_IF_ERROR(state->ExecScript(CreateStateTables(options.state_schema)));
  // A (re)start streams from the slot, which answers every request filed so far.
  CMO_ASSIGN_OR_RETURN(
      base::PgResult req,
      state->Exec(base::StrCat("SELECT COALESCE(max(requested), 0) FROM ",
                               QuoteIdent(options.state_schema), ".cdc_requests WHERE slot = $1"),
                  {options.slot}));
  CMO_ASSIGN_OR_RETURN(answered, req.Int(0, 0));
  CMO_ASSIGN_OR_RETURN(base::PgResult slot,
                       state->Exec("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                                   "WHERE slot_name = $1",
                                   {options.slot}));
  CMO_ASSIGN_OR_RETURN(base::PgResult rows,
                       state->Exec(base::StrCat("SELECT table_name, snapshot_lsn, after_key, done "
                                                "FROM ",
                                                StateTable(), " WHERE slot = $1"),
                                   {options.slot}));
  snapshot_after.assign(tables.size(), std::nullopt);
  table_done.assign(tables.size(), false);
  if (slot.rows() == 1) {
    if (rows.rows() == 0) {
      return absl::FailedPreconditionError(base::StrCat(
          "replication slot ", options.slot, " exists but cmo has no record of its snapshot: ",
          "it belongs to something else, or its state was removed. Name another slot, or drop "
          "it (SELECT pg_drop_replication_slot('",
          options.slot, "')) to snapshot again"));
    }
    CMO_ASSIGN_OR_RETURN(confirmed, base::ParsePgLsn(slot.Text(0, 0)));
    for (size_t t = 0; t < tables.size(); ++t) {
      int found = -1;
      for (int r = 0; r < rows.rows(); ++r) {
        if (rows.Text(r, 0) == tables[t].table.table) found = r;
      }
      if (found < 0) {
        return absl::FailedPreconditionError(base::StrCat(
            "table ", tables[t].table.table, " is new to replication slot ", options.slot,
            ": a table added to a running slot cannot be snapshot consistently. Drop the slot "
            "(SELECT pg_drop_replication_slot('",
            options.slot,
            "')) to snapshot every table "
            "again, or follow it with a slot of its own"));
      }
      CMO_ASSIGN_OR_RETURN(snapshot_lsn, rows.Int(found, 1));
      table_done[t] = rows.Text(found, 3) == "t";
      if (!rows.IsNull(found, 2)) {
        const auto j = nlohmann::json::parse(rows.Text(found, 2), nullptr, false);
        if (!j.is_array()) return absl::InternalError("corrupt snapshot progress");
        std::vector<std::string> key;
        for (const auto& v : j) key.push_back(v.get<std::string>());
        snapshot_after[t] = key;
      }
    }
  } else {
    // No slot: the first start, or the slot was lost (a failover to a server without it).
    // Everything is snapshot again from a new slot (runbooks/cdc-slot.md).
    if (rows.rows() > 0) {
      std::fprintf(stderr,
                   "cmo relay: replication slot %s is gone (failover?); creating it again and "
                   "snapshotting every followed table\n",
                   options.slot.c_str());
    }
    CMO_ASSIGN_OR_RETURN(stream, base::PgReplicationStream::Connect(source));
    CMO_ASSIGN_OR_RETURN(base::PgReplicationStream::Slot s,
                         stream->CreateLogicalSlot(options.slot, "pgoutput"));
    snapshot_lsn = s.consistent_point;
    confirmed = s.consistent_point;
    exported = s.snapshot;
    std::vector<base::PgStatement> reset = {
        {base::StrCat("DELETE FROM ", StateTable(), " WHERE slot = $1"), {options.slot}}};
    for (const CdcTableInfo& t : tables) {
      reset.push_back(
          {base::StrCat("INSERT INTO ", StateTable(), " VALUES ($1, $2, $3, NULL, false)"),
           {options.slot, t.table.table, base::StrCat(snapshot_lsn)}});
    }
    CMO_RETURN_IF_ERROR(state->ExecPipeline(reset).status());
  }
  snapshot_done = std::all_of(table_done.begin(), table_done.end(), [](bool d) { return d; });
  if (snapshot_done && min_applied != nullptr) {
    CMO_ASSIGN_OR_RETURN(applied, min_applied(partitions));
    if (applied < snapshot_lsn - 1) {
      // A region never got through the snapshot (new, or its log was lost): snapshot again,
      // at the slot's start version, which is still right since the slot has not moved past
      // what that region applied.
      std::fprintf(stderr,
                   "cmo relay: a region has applied only up to %lld, short of the snapshot "
                   "(%lld): snapshotting the followed tables again\n",
                   static_cast<long long>(applied), static_cast<long long>(snapshot_lsn - 1));
      CMO_RETURN_IF_ERROR(ResetSnapshot());
    }
  }
  received_below = confirmed;
  metrics->snapshot_lsn = snapshot_lsn;
  metrics->snapshot_done = snapshot_done;
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::ResetSnapshot() {
  ++metrics->resnapshots;
  CMO_RETURN_IF_ERROR(
      state
          ->Exec(base::StrCat("UPDATE ", StateTable(),
                              " SET after_key = NULL, done = false WHERE slot = $1"),
                 {options.slot})
          .status());
  snapshot_after.assign(tables.size(), std::nullopt);
  table_done.assign(tables.size(), false);
  snapshot_done = false;
  metrics->snapshot_done = false;
  snapshot.reset();  // a new transaction: the slot has not moved past what the regions applied
  DropStream();      // streamed again once the snapshot is through
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::CheckRequests(absl::Time now) {
  if (now - last_request_check < options.request_check_interval) return absl::OkStatus();
  last_request_check = now;
  CMO_ASSIGN_OR_RETURN(
      base::PgResult req,
      state->Exec(base::StrCat("SELECT COALESCE(max(requested), 0) FROM ",
                               QuoteIdent(options.state_schema), ".cdc_requests WHERE slot = $1"),
                  {options.slot}));
  CMO_ASSIGN_OR_RETURN(int64_t requested, req.Int(0, 0));
  if (requested <= answered) return absl::OkStatus();
  // A region lost part of its change log. Everything after what every region applied is in
  // the slot still (confirmed no further): stream it again. Snapshot rows are not: if a region
  // is short of them, or the snapshot is under way, snapshot again.
  ++metrics->republications;
  if (min_applied != nullptr) {
    CMO_ASSIGN_OR_RETURN(applied, min_applied(partitions));
  }
  if (!snapshot_done || (min_applied != nullptr && applied < snapshot_lsn - 1)) {
    CMO_RETURN_IF_ERROR(ResetSnapshot());
  }
  answered = requested;
  restart = true;
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::StartStream() {
  if (stream != nullptr && stream->ok() && !streaming && !restart) {
    // The connection that created the slot, idle since: the slot is still its own, so it
    // streams (a new connection would find the slot active until this one's backend exits).
    ResetStreamState();
  } else {
    if (stream != nullptr) ++metrics->reconnects;
    DropStream();
    CMO_ASSIGN_OR_RETURN(stream, base::PgReplicationStream::Connect(source));
  }
  // From 0: the server starts at the slot's confirmed position, which is what was acknowledged.
  CMO_RETURN_IF_ERROR(stream->StartLogical(
      options.slot, 0, {{"proto_version", "1"}, {"publication_names", options.publication}}));
  streaming = true;
  return absl::OkStatus();
}

void CdcRelay::Impl::OnDelivery(const base::DeliveryReport& r) {
  if (r.opaque == 0) return;  // a heartbeat
  auto it = in_flight.find(r.opaque);
  if (it == in_flight.end()) return;  // sent before the stream was dropped
  if (!r.status.ok()) {
    // Retried forever by the producer (message.timeout.ms=0), so this is fatal for the
    // message: send it again from the slot.
    std::fprintf(stderr, "cmo relay: a change was not delivered (%s); sending it again\n",
                 std::string(r.status.message()).c_str());
    (snapshot_done ? restart : snapshot_failed) = true;
    return;
  }
  ++metrics->changes;
  --in_flight_changes;
  if (--it->second.remaining == 0) in_flight.erase(it);
}

absl::Status CdcRelay::Impl::Publish(std::vector<store::OutboxEntry> entries, int64_t lsn) {
  if (entries.empty()) return absl::OkStatus();
  const uint64_t id = next_id++;
  // One more than its changes until all are queued: acknowledgements served while queueing
  // (Poll below) must not complete it early.
  in_flight[id] = {lsn, 1};
  for (const store::OutboxEntry& e : entries) {
    const std::string topic = ChangeTopic(e.row.domain);
    CMO_ASSIGN_OR_RETURN(int n, Partitions(topic));
    const std::string value = EncodeChange(e);
    for (;;) {
      const absl::Status s =
          producer->Produce(topic, PartitionOf(e.row.key, n), e.row.key, value, id);
      if (!absl::IsUnavailable(s)) {
        CMO_RETURN_IF_ERROR(s);
        break;
      }
      producer->Poll(10);  // local queue full: make room
    }
    ++in_flight[id].remaining;
    ++in_flight_changes;
  }
  if (--in_flight[id].remaining == 0) in_flight.erase(id);
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::SnapshotStep(int timeout_ms) {
  if (snapshot == nullptr || !snapshot->ok()) {
    CMO_ASSIGN_OR_RETURN(snapshot, base::PgConnection::Connect(source));
    CMO_RETURN_IF_ERROR(snapshot->ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    if (!exported.empty()) {
      // The slot's own snapshot: exactly the commits before its consistent point.
      CMO_RETURN_IF_ERROR(
          snapshot->Exec(base::StrCat("SET TRANSACTION SNAPSHOT '", exported, "'")).status());
      exported.clear();
    }
  }
  size_t t = 0;
  while (t < tables.size() && table_done[t]) ++t;
  if (t == tables.size()) {
    CMO_RETURN_IF_ERROR(snapshot->ExecScript("COMMIT"));
    snapshot.reset();
    snapshot_done = true;
    metrics->snapshot_done = true;
    return absl::OkStatus();  // streaming starts on `stream`, the slot's own, if still open
  }
  const CdcTableInfo& info = tables[t];
  int chunk = options.snapshot_chunk;
  if (options.snapshot_rows_per_s > 0) {
    const absl::Time now = clock.Now();
    if (throttle_from == absl::InfinitePast()) throttle_from = now;
    const double allowed =
        absl::ToDoubleSeconds(now - throttle_from) * options.snapshot_rows_per_s - throttle_rows;
    chunk = std::min(chunk, static_cast<int>(allowed));
    if (chunk <= 0) {
      producer->Poll(std::min(timeout_ms, 10));
      return absl::OkStatus();
    }
  }
  std::vector<store::OutboxEntry> entries;
  const absl::Time now = clock.Now();
  CMO_ASSIGN_OR_RETURN(
      std::optional<std::vector<std::string>> last,
      ReadCdcChunk(*snapshot, info, snapshot_after[t], chunk,
                   [&](const std::vector<CdcColumnValue>& all) {
                     std::vector<CdcColumnValue> key;
                     for (int k : info.key) key.push_back(all[k]);
                     store::OutboxEntry e;
                     e.row.domain = info.table.domain;
                     e.row.key = CdcKey(key);
                     e.row.value = CdcRowJson(all);
                     e.row.lsn = snapshot_lsn - 1;  // below every change the slot streams
                     e.row.commit_time = now;
                     e.row.op = info.table.table;
                     if (info.subject >= 0) {
                       e.row.subject = std::string(all[info.subject].text.value_or(""));
                     }
                     entries.push_back(std::move(e));
                   }));
  const int read = static_cast<int>(entries.size());
  throttle_rows += read;
  metrics->snapshot_rows += read;
  CMO_RETURN_IF_ERROR(Publish(std::move(entries), snapshot_lsn - 1));
  // Progress is recorded only once Kafka has the rows: a kill -9 resends, never skips.
  CMO_RETURN_IF_ERROR(producer->Flush(std::max(timeout_ms, 30'000)));
  if (!in_flight.empty() || snapshot_failed) {
    // Not all acknowledged: read the chunk again (its progress was not recorded).
    in_flight.clear();
    in_flight_changes = 0;
    snapshot_failed = false;
    return absl::UnavailableError("snapshot rows were not acknowledged by Kafka; sending again");
  }
  const bool done = read < chunk;
  if (last.has_value()) snapshot_after[t] = std::move(last);
  table_done[t] = done;
  CMO_RETURN_IF_ERROR(
      state
          ->Exec(base::StrCat("UPDATE ", StateTable(),
                              " SET after_key = $3, done = $4 WHERE slot = $1 AND table_name = $2"),
                 {options.slot, info.table.table,
                  snapshot_after[t].has_value()
                      ? base::PgParam(base::JsonText(nlohmann::json(*snapshot_after[t])))
                      : std::nullopt,
                  done ? "true" : "false"})
          .status());
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::Refetch(PendingChange& change) {
  // The row as it is now, at least as new as this change: a later change of it is streamed
  // after this one, at a higher version, so the replica still ends at the source's row.
  ++metrics->refetches;
  const CdcTableInfo& info = tables[change.table];
  std::string where;
  std::vector<base::PgParam> params;
  for (size_t k = 0; k < info.key.size(); ++k) {
    base::StrAppend(&where, k == 0 ? "" : " AND ", QuoteIdent(info.columns[info.key[k]].name),
                    " = $", k + 1);
    params.push_back(change.key_texts[k]);
  }
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       state->Exec(base::StrCat("SELECT ", info.select_list, " FROM ",
                                                info.quoted_name, " WHERE ", where),
                                   params));
  if (r.rows() == 0) {  // deleted since: its delete follows
    change.entry.row.value.clear();
    change.entry.row.tombstone = true;
    return absl::OkStatus();
  }
  change.entry.row.value = CdcRowJson(CdcRowValues(r, 0, 0, info.columns));
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::OnRowChange(const pgoutput::Message& m) {
  auto rel = relations.find(m.relation_oid);
  if (rel == relations.end()) {
    return absl::InternalError("pgoutput sent a change before its relation");
  }
  if (rel->second < 0) return absl::OkStatus();
  const CdcTableInfo& info = tables[rel->second];
  auto values = [&](const pgoutput::Tuple& tuple, bool* toast) {
    std::vector<CdcColumnValue> out;
    for (size_t c = 0; c < info.columns.size() && c < tuple.size(); ++c) {
      std::optional<std::string_view> text;
      if (tuple[c].kind == pgoutput::Value::Kind::kText) text = tuple[c].text;
      if (tuple[c].kind == pgoutput::Value::Kind::kUnchangedToast && toast != nullptr) {
        *toast = true;
      }
      out.push_back({info.columns[c].name, info.columns[c].type, text});
    }
    return out;
  };
  auto key_of = [&](const std::vector<CdcColumnValue>& all) {
    std::vector<CdcColumnValue> key;
    for (int k : info.key) key.push_back(all[k]);
    return CdcKey(key);
  };
  auto add = [&](PendingChange c) {
    c.table = rel->second;
    c.entry.row.domain = info.table.domain;
    c.entry.row.lsn = txn_lsn;
    c.entry.row.commit_time = txn_time;
    c.entry.row.op = info.table.table;
    const std::string id =
        base::StrCat(c.entry.row.domain, std::string_view("\0", 1), c.entry.row.key);
    auto [it, fresh] = txn_index.emplace(id, txn.size());
    if (fresh) {
      txn.push_back(std::move(c));
    } else {
      txn[it->second] = std::move(c);  // a transaction's last change of a key is what it left
    }
  };
  if (m.type == pgoutput::Message::Type::kDelete || !m.old_tuple.empty()) {
    const std::vector<CdcColumnValue> old = values(m.old_tuple, nullptr);
    if (old.size() < info.columns.size()) return absl::InternalError("short old tuple");
    PendingChange del;
    del.entry.row.key = key_of(old);
    del.entry.row.tombstone = true;
    const bool moved = m.type == pgoutput::Message::Type::kUpdate &&
                       key_of(values(m.new_tuple, nullptr)) != del.entry.row.key;
    if (m.type == pgoutput::Message::Type::kDelete || moved) add(std::move(del));
  }
  if (m.type == pgoutput::Message::Type::kDelete) return absl::OkStatus();
  bool toast = false;
  const std::vector<CdcColumnValue> now = values(m.new_tuple, &toast);
  if (now.size() < info.columns.size()) return absl::InternalError("short new tuple");
  PendingChange put;
  put.entry.row.key = key_of(now);
  for (int k : info.key) put.key_texts.emplace_back(now[k].text.value_or(""));
  put.entry.row.value = CdcRowJson(now);
  if (info.subject >= 0) put.entry.row.subject = std::string(now[info.subject].text.value_or(""));
  put.refetch = toast;
  add(std::move(put));
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::SendTransaction() {
  std::vector<store::OutboxEntry> entries;
  entries.reserve(txn.size());
  for (PendingChange& c : txn) {
    if (c.refetch) CMO_RETURN_IF_ERROR(Refetch(c));
    entries.push_back(std::move(c.entry));
  }
  txn.clear();
  txn_index.clear();
  ++metrics->transactions;
  return Publish(std::move(entries), txn_lsn);
}

absl::Status CdcRelay::Impl::OnMessage(const base::PgStreamMessage& sm) {
  if (sm.kind == base::PgStreamMessage::Kind::kKeepalive) {
    // Between transactions, the server's position says every commit below it was sent.
    if (!in_transaction) received_below = std::max(received_below, sm.wal_end);
    if (sm.reply_requested) return Status(clock.Now(), /*force=*/true);
    return absl::OkStatus();
  }
  CMO_ASSIGN_OR_RETURN(pgoutput::Message m, pgoutput::Decode(sm.data));
  using Type = pgoutput::Message::Type;
  switch (m.type) {
    case Type::kBegin:
      in_transaction = true;
      txn_lsn = m.lsn;
      txn_time = absl::FromUnixMicros(m.commit_unix_us);
      txn.clear();
      txn_index.clear();
      return absl::OkStatus();
    case Type::kCommit:
      in_transaction = false;
      CMO_RETURN_IF_ERROR(SendTransaction());
      received_below = std::max(received_below, m.lsn + 1);
      return absl::OkStatus();
    case Type::kRelation: {
      int index = -1;
      for (size_t t = 0; t < tables.size(); ++t) {
        const std::string& name = tables[t].table.table;
        if (name == m.relation.schema + "." + m.relation.name ||
            (m.relation.schema == "public" && name == m.relation.name)) {
          index = static_cast<int>(t);
        }
      }
      if (index >= 0) {
        // The table's shape at this point of the stream (sent again after ALTER TABLE):
        // changes from here on are encoded with it, as a snapshot read now would be.
        std::vector<CdcColumn> columns;
        for (const pgoutput::Column& c : m.relation.columns) columns.push_back({c.name, c.type});
        CMO_RETURN_IF_ERROR(ReshapeCdcTable(tables[index], std::move(columns)));
      }
      relations[m.relation.oid] = index;
      return absl::OkStatus();
    }
    case Type::kInsert:
    case Type::kUpdate:
    case Type::kDelete:
      return OnRowChange(m);
    case Type::kTruncate:
      ++metrics->truncates;
      std::fprintf(stderr,
                   "cmo relay: TRUNCATE of a followed table is not replicated: run a "
                   "reconciliation of its domain (runbooks/cdc-slot.md)\n");
      return absl::OkStatus();
    case Type::kOther:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::Status(absl::Time now, bool force) {
  if (stream == nullptr || !streaming || (!force && now - last_status < options.status_interval)) {
    return absl::OkStatus();
  }
  last_status = now;
  if (snapshot_done) {
    int64_t safe = Claim() + 1;
    if (min_applied != nullptr) safe = std::min(safe, applied + 1);
    confirmed = std::max(confirmed, safe);
  }
  // Asks for the server's position too: while the tables are idle, its keepalive is what
  // moves received_below, hence heartbeats and watermarks.
  return stream->SendStatus(received_below, confirmed, /*reply_requested=*/true);
}

absl::Status CdcRelay::Impl::Heartbeats(absl::Time now) {
  if (!snapshot_done) return absl::OkStatus();  // a watermark would claim missing rows
  const int64_t claim = Claim();
  const absl::Duration every =
      claim != heartbeat_lsn ? options.heartbeat_interval : options.idle_heartbeat_interval;
  if (now - last_heartbeat < every) return absl::OkStatus();
  last_heartbeat = now;
  heartbeat_lsn = claim;
  metrics->published_through = claim;
  std::string hb = EncodeHeartbeat(claim, now, answered);
  if (options.keys != nullptr) hb = options.keys->Sign(hb);
  for (const auto& [topic, n] : partitions) {
    for (int32_t p = 0; p < n; ++p) {
      const absl::Status s = producer->Produce(topic, p, "", hb, 0);
      if (!s.ok() && !absl::IsUnavailable(s)) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::CheckRetention(absl::Time now) {
  if (now - last_retention < options.retention_check_interval) return absl::OkStatus();
  last_retention = now;
  if (min_applied != nullptr) {
    CMO_ASSIGN_OR_RETURN(applied, min_applied(partitions));
    metrics->min_applied = applied;
  }
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       state->Exec("SELECT COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), "
                                   "restart_lsn), 0)::bigint FROM pg_replication_slots WHERE "
                                   "slot_name = $1",
                                   {options.slot}));
  if (r.rows() != 1) {
    restart = true;
    return absl::UnavailableError(
        base::StrCat("replication slot ", options.slot, " disappeared from the source"));
  }
  CMO_ASSIGN_OR_RETURN(metrics->retained_wal_bytes, r.Int(0, 0));
  metrics->retention_exceeded = metrics->retained_wal_bytes > options.max_retained_wal_bytes;
  if (metrics->retention_exceeded && now - last_retention_warning >= absl::Minutes(1)) {
    last_retention_warning = now;
    std::fprintf(stderr,
                 "cmo relay: replication slot %s holds back %lld bytes of WAL on the source "
                 "(limit %lld): see runbooks/cdc-slot.md before the leader's disk fills\n",
                 options.slot.c_str(), static_cast<long long>(metrics->retained_wal_bytes),
                 static_cast<long long>(options.max_retained_wal_bytes));
  }
  return absl::OkStatus();
}

absl::Status CdcRelay::Impl::StreamStep(int timeout_ms) {
  if (restart || stream == nullptr || !stream->ok() || !streaming) {
    CMO_RETURN_IF_ERROR(StartStream());
  }
  const absl::Time deadline = clock.Now() + absl::Milliseconds(timeout_ms);
  while (in_flight_changes < options.max_in_flight && !restart) {
    const int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - clock.Now()));
    absl::StatusOr<std::optional<base::PgStreamMessage>> m = stream->Read(std::max(left, 0));
    if (!m.ok()) {
      ++metrics->reconnects;
      DropStream();
      return m.status();
    }
    if (!m->has_value()) break;
    CMO_RETURN_IF_ERROR(OnMessage(**m));
    producer->Poll(0);
  }
  producer->Poll(in_flight_changes >= options.max_in_flight ? std::min(timeout_ms, 50) : 0);
  return absl::OkStatus();
}

CdcRelay::CdcRelay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->metrics = &metrics_;
}
CdcRelay::~CdcRelay() = default;

absl::StatusOr<std::unique_ptr<CdcRelay>> CdcRelay::Create(const std::string& source,
                                                           const base::KafkaConfig& kafka,
                                                           OutboxRelay::EnsureTopic ensure_topic,
                                                           OutboxRelay::MinApplied min_applied,
                                                           const base::Clock& clock,
                                                           CdcOptions options) {
  if (options.tables.empty()) {
    return absl::InvalidArgumentError("change data capture needs at least one table to follow");
  }
  auto impl = std::make_unique<Impl>(source, std::move(ensure_topic), std::move(min_applied), clock,
                                     std::move(options));
  Impl* self = impl.get();
  std::unique_ptr<CdcRelay> relay(new CdcRelay(std::move(impl)));
  CMO_RETURN_IF_ERROR(self->Connect());
  for (const CdcTable& t : self->options.tables) {
    CMO_ASSIGN_OR_RETURN(CdcTableInfo info, DescribeCdcTable(*self->state, t));
    self->tables.push_back(std::move(info));
  }
  CMO_RETURN_IF_ERROR(
      CheckPublication(*self->state, self->options.publication, self->options.tables));
  CMO_ASSIGN_OR_RETURN(
      self->producer,
      base::KafkaProducer::Create(DataPathProducerConfig(kafka),
                                  [self](const base::DeliveryReport& r) { self->OnDelivery(r); }));
  // Every domain's topic now: heartbeats reach idle tables' partitions too.
  for (const CdcTableInfo& t : self->tables) {
    CMO_RETURN_IF_ERROR(self->Partitions(ChangeTopic(t.table.domain)).status());
  }
  CMO_RETURN_IF_ERROR(self->LoadOrCreateSlot());
  return relay;
}

absl::Status CdcRelay::Step(int timeout_ms) {
  Impl& s = *impl_;
  s.producer->Poll(0);
  CMO_RETURN_IF_ERROR(s.Connect());
  CMO_RETURN_IF_ERROR(s.CheckRequests(s.clock.Now()));
  if (!s.snapshot_done) {
    CMO_RETURN_IF_ERROR(s.SnapshotStep(timeout_ms));
  } else {
    CMO_RETURN_IF_ERROR(s.StreamStep(timeout_ms));
  }
  const absl::Time now = s.clock.Now();
  CMO_RETURN_IF_ERROR(s.Heartbeats(now));
  if (s.snapshot_done) CMO_RETURN_IF_ERROR(s.Status(now, /*force=*/false));
  CMO_RETURN_IF_ERROR(s.CheckRetention(now));
  metrics_.received_lsn = s.received_below;
  metrics_.confirmed_lsn = s.confirmed;
  metrics_.in_flight = s.in_flight_changes;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CdcRelay::RequestRepublish(const std::string& source,
                                                   const CdcOptions& options) {
  CMO_ASSIGN_OR_RETURN(auto db, base::PgConnection::Connect(source));
  CMO_RETURN_IF_ERROR(db->ExecScript(CreateStateTables(options.state_schema)));
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db->Exec(base::StrCat("INSERT INTO ", QuoteIdent(options.state_schema),
                            ".cdc_requests VALUES ($1, 1) ON CONFLICT (slot) DO UPDATE SET "
                            "requested = cdc_requests.requested + 1 RETURNING requested"),
               {options.slot}));
  return r.Int(0, 0);
}

std::function<absl::StatusOr<int64_t>()> CdcRelay::LsnCeiling(const std::string& source) {
  auto db = std::make_shared<std::unique_ptr<base::PgConnection>>();
  return [source, db]() -> absl::StatusOr<int64_t> {
    if (*db == nullptr || !(*db)->ok()) {
      CMO_ASSIGN_OR_RETURN(*db, base::PgConnection::Connect(source));
    }
    CMO_ASSIGN_OR_RETURN(base::PgResult r,
                         (*db)->Exec("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"));
    return r.Int(0, 0);
  };
}

absl::Status CdcRelay::Flush(int timeout_ms) {
  CMO_RETURN_IF_ERROR(impl_->producer->Flush(timeout_ms));
  if (impl_->snapshot_done) return impl_->Status(impl_->clock.Now(), /*force=*/true);
  return absl::OkStatus();
}

}  // namespace cmo::shadow
