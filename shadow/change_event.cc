#include "shadow/change_event.h"

#include <xxhash.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "base/strings.h"

namespace cmo::shadow {

std::string ChangeTopic(std::string_view domain) { return base::StrCat("cmo.changes.", domain); }

std::string EncodeChange(const store::OutboxEntry& e) {
  std::string b64;
  absl::Base64Escape(absl::string_view(e.row.value.data(), e.row.value.size()), &b64);
  nlohmann::json j = {
      {"v", kChangeEventVersion}, {"type", "change"},
      {"domain", e.row.domain},   {"key", e.row.key},
      {"value_b64", b64},         {"tombstone", e.row.tombstone},
      {"lsn", e.row.lsn},         {"op", e.op},
      {"subject", e.subject},     {"commit_ms", absl::ToUnixMillis(e.row.commit_time)}};
  // Keys are documented as UTF-8; a stray invalid byte is replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeHeartbeat(int64_t lsn, absl::Time now) {
  return nlohmann::json{{"v", kChangeEventVersion},
                        {"type", "heartbeat"},
                        {"lsn", lsn},
                        {"sent_ms", absl::ToUnixMillis(now)}}
      .dump();
}

absl::StatusOr<ChangeEvent> DecodeEvent(std::string_view value) {
  const nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(base::StrCat("not a cmo change event: ", why));
  };
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("v") || !j["v"].is_number_integer() || j["v"] != kChangeEventVersion) {
    return bad("unknown version");
  }
  if (!j.contains("type") || !j["type"].is_string() || !j.contains("lsn") ||
      !j["lsn"].is_number_integer()) {
    return bad("missing type or lsn");
  }
  ChangeEvent e;
  e.row.lsn = j["lsn"].get<int64_t>();
  if (j["type"] == "heartbeat") {
    e.heartbeat = true;
    if (j.contains("sent_ms") && j["sent_ms"].is_number_integer()) {
      e.sent = absl::FromUnixMillis(j["sent_ms"].get<int64_t>());
    }
    return e;
  }
  if (j["type"] != "change") return bad("unknown type");
  for (const char* field : {"domain", "key", "value_b64", "op", "subject"}) {
    if (!j.contains(field) || !j[field].is_string()) return bad(base::StrCat("missing ", field));
  }
  if (!j.contains("tombstone") || !j["tombstone"].is_boolean() || !j.contains("commit_ms") ||
      !j["commit_ms"].is_number_integer()) {
    return bad("missing tombstone or commit_ms");
  }
  e.row.domain = j["domain"].get<std::string>();
  e.row.key = j["key"].get<std::string>();
  std::string bytes;
  if (!absl::Base64Unescape(j["value_b64"].get<std::string>(), &bytes)) return bad("bad base64");
  e.row.value = std::move(bytes);
  e.row.tombstone = j["tombstone"].get<bool>();
  e.row.commit_time = absl::FromUnixMillis(j["commit_ms"].get<int64_t>());
  e.op = j["op"].get<std::string>();
  e.subject = j["subject"].get<std::string>();
  return e;
}

int32_t PartitionOf(std::string_view key, int partitions) {
  return static_cast<int32_t>(XXH3_64bits(key.data(), key.size()) %
                              static_cast<uint64_t>(partitions));
}

}  // namespace cmo::shadow
