#include "base/pg_replication.h"

#include <poll.h>

#include <charconv>
#include <chrono>
#include <cstdio>

#include "base/internal/pg_connection_impl.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::base {
namespace {

// PostgreSQL's epoch (2000-01-01) in Unix microseconds: the protocol's clock.
constexpr int64_t kPgEpochUnixMicros = 946'684'800'000'000;

int64_t ReadInt64(std::string_view b, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return static_cast<int64_t>(v);
}

void AppendInt64(std::string* out, int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

int64_t PgNowMicros() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() - kPgEpochUnixMicros;
}

// A command's error, said the way an operator acts on it where we know how.
absl::Status CommandError(absl::Status s, PGresult* res) {
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const std::string_view code = state == nullptr ? "" : state;
  if (code == "55000" || code == "42501") {  // wal_level too low; no REPLICATION privilege
    return absl::FailedPreconditionError(
        StrCat(s.message(),
               "; logical replication needs wal_level=logical on the server (postgresql.conf, then "
               "restart) and a role with the REPLICATION attribute"));
  }
  if (code == "42710") return absl::AlreadyExistsError(s.message());  // duplicate object
  if (code == "55006") {  // object in use: a slot another connection still holds
    return absl::UnavailableError(
        base::StrCat(s.message(),
                     "; a relay that just let go of it, or another relay on the same slot: "
                     "retrying"));
  }
  return s;
}

}  // namespace

absl::StatusOr<int64_t> ParsePgLsn(std::string_view text) {
  const size_t slash = text.find('/');
  uint32_t hi = 0, lo = 0;
  auto hex = [](std::string_view part, uint32_t* out) {
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), *out, 16);
    return !part.empty() && ec == std::errc() && end == part.data() + part.size();
  };
  if (slash == std::string_view::npos || !hex(text.substr(0, slash), &hi) ||
      !hex(text.substr(slash + 1), &lo) || hi >= 0x80000000u) {
    return absl::InvalidArgumentError(
        StrCat("\"", text, "\" is not a WAL position (expected hex HI/LO, e.g. 16/B374D848)"));
  }
  return (static_cast<int64_t>(hi) << 32) | lo;
}

std::string FormatPgLsn(int64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%X/%X", static_cast<unsigned>(static_cast<uint64_t>(lsn) >> 32),
                static_cast<unsigned>(lsn & 0xFFFFFFFF));
  return buf;
}

PgReplicationStream::PgReplicationStream(std::unique_ptr<PgConnection::Impl> impl)
    : impl_(std::move(impl)) {}
PgReplicationStream::~PgReplicationStream() = default;

absl::StatusOr<std::unique_ptr<PgReplicationStream>> PgReplicationStream::Connect(
    const std::string& uri) {
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection::Impl> impl,
                       PgConnection::Impl::Open(uri, /*replication=*/true));
  return std::unique_ptr<PgReplicationStream>(new PgReplicationStream(std::move(impl)));
}

bool PgReplicationStream::ok() const {
  return impl_->conn != nullptr && PQstatus(impl_->conn) == CONNECTION_OK;
}

absl::StatusOr<PgReplicationStream::Slot> PgReplicationStream::CreateLogicalSlot(
    std::string_view name, std::string_view plugin) {
  // Replication commands take identifiers, not parameters: allow only what needs no quoting.
  for (std::string_view id : {name, plugin}) {
    if (id.empty() ||
        id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat(
          "\"", id, "\" is not a valid slot or plugin name (lower-case letters, digits, _)"));
    }
  }
  const std::string command =
      StrCat("CREATE_REPLICATION_SLOT ", name, " LOGICAL ", plugin, " (SNAPSHOT 'export')");
  PGresult* res = PQexec(impl_->conn, command.c_str());
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    absl::Status s = CommandError(impl_->ResultError(res, command), res);
    PQclear(res);
    return s;
  }
  Slot slot;
  // Columns: slot_name, consistent_point, snapshot_name, output_plugin.
  absl::StatusOr<int64_t> point = PQntuples(res) == 1 && PQnfields(res) >= 3
                                      ? ParsePgLsn(PQgetvalue(res, 0, 1))
                                      : absl::InternalError("unexpected reply");
  if (point.ok()) {
    slot.consistent_point = *point;
    slot.snapshot = PQgetvalue(res, 0, 2);
  }
  PQclear(res);
  CMO_RETURN_IF_ERROR(point.status());
  return slot;
}

absl::Status PgReplicationStream::StartLogical(
    std::string_view slot, int64_t from,
    const std::vector<std::pair<std::string, std::string>>& options) {
  std::string command = StrCat("START_REPLICATION SLOT ", slot, " LOGICAL ", FormatPgLsn(from));
  if (!options.empty()) {
    command += " (";
    for (size_t i = 0; i < options.size(); ++i) {
      // Option values are string literals: double any quote.
      std::string value;
      for (char c : options[i].second) value += c == '\'' ? std::string("''") : std::string(1, c);
      StrAppend(&command, i == 0 ? "" : ", ", options[i].first, " '", value, "'");
    }
    command += ")";
  }
  PGresult* res = PQexec(impl_->conn, command.c_str());
  const ExecStatusType st = PQresultStatus(res);
  absl::Status s = st == PGRES_COPY_BOTH ? absl::OkStatus()
                                         : CommandError(impl_->ResultError(res, command), res);
  PQclear(res);
  return s;
}

absl::StatusOr<std::optional<PgStreamMessage>> PgReplicationStream::Read(int timeout_ms) {
  PGconn* conn = impl_->conn;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn, &buf, /*async=*/1);
    if (n > 0) {
      const std::string_view b(buf, static_cast<size_t>(n));
      PgStreamMessage m;
      absl::Status bad;
      if (b[0] == 'w' && b.size() >= 25) {
        m.kind = PgStreamMessage::Kind::kData;
        m.wal_start = ReadInt64(b, 1);
        m.wal_end = ReadInt64(b, 9);
        m.data.assign(b.substr(25));
      } else if (b[0] == 'k' && b.size() >= 18) {
        m.kind = PgStreamMessage::Kind::kKeepalive;
        m.wal_end = ReadInt64(b, 1);
        m.reply_requested = b[17] != 0;
      } else {
        bad = absl::InternalError(
            StrCat(impl_->where, ": unexpected replication message of ", n, " bytes"));
      }
      PQfreemem(buf);
      CMO_RETURN_IF_ERROR(bad);
      return m;
    }
    if (n == -1) {  // the server ended the stream
      PGresult* res = PQgetResult(conn);
      absl::Status s =
          absl::UnavailableError(StrCat(impl_->where, ": the replication stream ended: ",
                                        res == nullptr ? "" : Trimmed(PQresultErrorMessage(res))));
      PQclear(res);
      return s;
    }
    if (n == -2) {
      return absl::UnavailableError(
          StrCat(impl_->where, ": replication connection lost: ", Trimmed(PQerrorMessage(conn))));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return std::nullopt;
    pollfd p{PQsocket(conn), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      return absl::UnavailableError(StrCat(impl_->where, ": poll failed"));
    }
    if (PQconsumeInput(conn) != 1) {
      return absl::UnavailableError(
          StrCat(impl_->where, ": replication connection lost: ", Trimmed(PQerrorMessage(conn))));
    }
  }
}

absl::Status PgReplicationStream::SendStatus(int64_t written, int64_t flushed,
                                             bool reply_requested) {
  std::string msg = "r";
  AppendInt64(&msg, written);
  AppendInt64(&msg, flushed);
  AppendInt64(&msg, flushed);  // applied: nothing here applies WAL, so what is safe
  AppendInt64(&msg, PgNowMicros());
  msg.push_back(reply_requested ? 1 : 0);
  if (PQputCopyData(impl_->conn, msg.data(), static_cast<int>(msg.size())) != 1 ||
      PQflush(impl_->conn) != 0) {
    return absl::UnavailableError(StrCat(
        impl_->where, ": cannot send a status update: ", Trimmed(PQerrorMessage(impl_->conn))));
  }
  return absl::OkStatus();
}

}  // namespace cmo::base
