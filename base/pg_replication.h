// PostgreSQL's streaming replication protocol for logical decoding, over libpq: a connection
// in `replication=database` mode that creates a logical slot (exporting a snapshot consistent
// with the slot's start), streams its changes (CopyBoth), and reports progress back. What the
// plugin's bytes mean is the caller's (shadow/pgoutput.h); this is only the framing:
//   server → XLogData   'w' start:int64 end:int64 sent_us:int64 data...
//            keepalive  'k' end:int64 sent_us:int64 reply_requested:int8
//   client → status     'r' written:int64 flushed:int64 applied:int64 sent_us:int64 reply:int8
// (PostgreSQL manual, "Streaming Replication Protocol"). Integers are big-endian.
#ifndef CMO_BASE_PG_REPLICATION_H_
#define CMO_BASE_PG_REPLICATION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/postgres.h"

namespace cmo::base {

// A WAL position, "16/B374D848" in PostgreSQL's text form. kInvalidArgument when malformed.
absl::StatusOr<int64_t> ParsePgLsn(std::string_view text);
std::string FormatPgLsn(int64_t lsn);

struct PgStreamMessage {
  enum class Kind { kData, kKeepalive };
  Kind kind = Kind::kData;
  int64_t wal_start = 0;  // kData: where the data's record starts (0 when the server omits it)
  // kKeepalive: the server's send position. For a logical slot, every transaction that
  // committed below it has been sent before this message.
  int64_t wal_end = 0;
  bool reply_requested = false;  // kKeepalive: the server asks for a status update now
  std::string data;              // kData: the output plugin's message
};

// Not thread-safe.
class PgReplicationStream {
 public:
  // kUnavailable when the server cannot be reached; kFailedPrecondition (with what to do)
  // when the server refuses replication (wal_level, pg_hba, REPLICATION privilege).
  static absl::StatusOr<std::unique_ptr<PgReplicationStream>> Connect(const std::string& uri);
  ~PgReplicationStream();

  struct Slot {
    int64_t consistent_point = 0;  // changes committed from here on are decoded
    std::string snapshot;          // exported snapshot: valid until the next command here
  };
  // CREATE_REPLICATION_SLOT name LOGICAL plugin, exporting its snapshot. kAlreadyExists when a
  // slot of that name exists.
  absl::StatusOr<Slot> CreateLogicalSlot(std::string_view name, std::string_view plugin);

  // START_REPLICATION SLOT name LOGICAL from (options): the server sends every transaction that
  // commits at or after max(from, the slot's confirmed position).
  absl::Status StartLogical(std::string_view slot, int64_t from,
                            const std::vector<std::pair<std::string, std::string>>& options);

  // The next message, waiting at most `timeout_ms`; nullopt when none came. kUnavailable when
  // the connection was lost or the server ended the stream.
  absl::StatusOr<std::optional<PgStreamMessage>> Read(int timeout_ms);

  // Standby status update: everything below `flushed` is safely elsewhere, so the server may
  // recycle the WAL before it (for a logical slot: its confirmed position).
  absl::Status SendStatus(int64_t written, int64_t flushed, bool reply_requested);

  bool ok() const;

 private:
  explicit PgReplicationStream(std::unique_ptr<PgConnection::Impl> impl);
  std::unique_ptr<PgConnection::Impl> impl_;
};

}  // namespace cmo::base

#endif  // CMO_BASE_PG_REPLICATION_H_
