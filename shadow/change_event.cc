#include "shadow/change_event.h"

#include <xxhash.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/escaping.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/internal/flat_json.h"

namespace cmo::shadow {

std::string ChangeTopic(std::string_view domain) { return base::StrCat("cmo.changes.", domain); }

std::string PriorityTopic(std::string_view domain) {
  return base::StrCat(kPriorityTopicPrefix, domain);
}

absl::StatusOr<int64_t> DomainWatermark(store::ReplicaStore& replica, std::string_view domain) {
  CMO_ASSIGN_OR_RETURN(const int64_t bulk, replica.TopicWatermark(ChangeTopic(domain)));
  const std::string priority = PriorityTopic(domain);
  CMO_ASSIGN_OR_RETURN(const int partitions, replica.TopicPartitions(priority));
  if (partitions == 0) return bulk;
  CMO_ASSIGN_OR_RETURN(const int64_t fast, replica.TopicWatermark(priority));
  return std::min(bulk, fast);
}

namespace {

using internal::AppendJsonString;
using internal::FlatMember;
using internal::FlatObject;

absl::StatusOr<ChangeEvent> FromMembers(const FlatObject& j) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(base::StrCat("not a cmo change event: ", why));
  };
  auto has = [&](std::string_view name, FlatMember::Kind kind) {
    const FlatMember* m = j.Find(name);
    return m != nullptr && m->kind == kind;
  };
  auto text = [&](std::string_view name) { return std::string(j.Find(name)->text); };
  auto number = [&](std::string_view name) { return j.Find(name)->number; };
  if (!has("v", FlatMember::Kind::kInt) || number("v") != kChangeEventVersion) {
    return bad("unknown version");
  }
  if (!has("type", FlatMember::Kind::kString) || !has("lsn", FlatMember::Kind::kInt)) {
    return bad("missing type or lsn");
  }
  ChangeEvent e;
  e.row.lsn = number("lsn");
  const std::string_view type = j.Find("type")->text;
  if (type == "heartbeat") {
    e.heartbeat = true;
    if (has("sent_ms", FlatMember::Kind::kInt)) e.sent = absl::FromUnixMillis(number("sent_ms"));
    if (has("republish", FlatMember::Kind::kInt)) e.republish = number("republish");
    return e;
  }
  if (type != "change") return bad("unknown type");
  for (const char* field : {"domain", "key", "value_b64", "op", "subject"}) {
    if (!has(field, FlatMember::Kind::kString)) return bad(base::StrCat("missing ", field));
  }
  if (!has("tombstone", FlatMember::Kind::kBool) || !has("commit_ms", FlatMember::Kind::kInt)) {
    return bad("missing tombstone or commit_ms");
  }
  e.row.domain = text("domain");
  e.row.key = text("key");
  if (!absl::Base64Unescape(base::ToAbsl(j.Find("value_b64")->text), &e.row.value))
    return bad("bad base64");
  e.row.tombstone = j.Find("tombstone")->boolean;
  e.row.commit_time = absl::FromUnixMillis(number("commit_ms"));
  e.row.op = text("op");
  e.row.subject = text("subject");
  if (const FlatMember* d = j.Find("depends_on"); d != nullptr) {
    if (d->kind != FlatMember::Kind::kInt || d->number < 0 || d->number >= e.row.lsn) {
      return bad("depends_on is not an LSN below the change's own");
    }
    e.row.depends_on = d->number;
  }
  return e;
}

}  // namespace

// Members are written in name order, as the format's first encoder (a JSON library sorting
// keys) wrote them: consumers comparing messages byte for byte see no change.
std::string EncodeChange(const store::OutboxEntry& e) {
  std::string out;
  out.reserve(160 + e.row.key.size() + e.row.value.size() * 4 / 3 + e.row.op.size() +
              e.row.subject.size());
  base::StrAppend(&out, "{\"commit_ms\":", absl::ToUnixMillis(e.row.commit_time));
  // Only when set: a change without one is byte for byte what it was before the field existed.
  if (e.row.depends_on != 0) base::StrAppend(&out, ",\"depends_on\":", e.row.depends_on);
  out += ",\"domain\":";
  AppendJsonString(out, e.row.domain);
  out += ",\"key\":";
  AppendJsonString(out, e.row.key);
  base::StrAppend(&out, ",\"lsn\":", e.row.lsn, ",\"op\":");
  AppendJsonString(out, e.row.op);
  out += ",\"subject\":";
  AppendJsonString(out, e.row.subject);
  base::StrAppend(&out, ",\"tombstone\":", e.row.tombstone ? "true" : "false",
                  ",\"type\":\"change\",\"v\":", kChangeEventVersion, ",\"value_b64\":\"",
                  absl::Base64Escape(base::ToAbsl(e.row.value)), "\"}");
  return out;
}

std::string EncodeHeartbeat(int64_t lsn, absl::Time now, int64_t republish) {
  return base::StrCat("{\"lsn\":", lsn, ",\"republish\":", republish,
                      ",\"sent_ms\":", absl::ToUnixMillis(now),
                      ",\"type\":\"heartbeat\",\"v\":", kChangeEventVersion, "}");
}

absl::StatusOr<ChangeEvent> DecodeEvent(std::string_view value) {
  if (std::optional<FlatObject> flat = internal::ScanFlatObject(value)) return FromMembers(*flat);
  return DecodeEventInFull(value);
}

absl::StatusOr<ChangeEvent> DecodeEventInFull(std::string_view value) {
  const nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError("not a cmo change event: not a JSON object");
  }
  FlatObject members;
  for (const auto& [name, v] : j.items()) {
    FlatMember m;
    m.name = name;
    if (v.is_string()) {
      m.kind = FlatMember::Kind::kString;
      m.text = v.get_ref<const std::string&>();
    } else if (v.is_number_integer()) {
      m.kind = FlatMember::Kind::kInt;
      m.number = v.get<int64_t>();
    } else if (v.is_boolean()) {
      m.kind = FlatMember::Kind::kBool;
      m.boolean = v.get<bool>();
    } else {
      m.kind = v.is_null() ? FlatMember::Kind::kNull : FlatMember::Kind::kOther;
    }
    // Only the format's own members are looked up, so a message with many others still fits.
    static constexpr std::string_view kKnown[] = {
        "v",  "type",    "lsn",       "sent_ms",   "republish", "domain",    "key",
        "op", "subject", "tombstone", "commit_ms", "value_b64", "depends_on"};
    if (std::find(std::begin(kKnown), std::end(kKnown), m.name) != std::end(kKnown)) {
      members.Add(m);
    }
  }
  return FromMembers(members);
}

int32_t PartitionOf(std::string_view key, int partitions) {
  return static_cast<int32_t>(XXH3_64bits(key.data(), key.size()) %
                              static_cast<uint64_t>(partitions));
}

}  // namespace cmo::shadow
