#include "shadow/pgoutput.h"

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::shadow::pgoutput {
namespace {

// PostgreSQL's epoch (2000-01-01) in Unix microseconds.
constexpr int64_t kPgEpochUnixMicros = 946'684'800'000'000;

// Reads big-endian fields off the front of a message, failing (not crashing) past its end.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}

  bool Need(size_t n) {
    if (b_.size() - at_ >= n) return true;
    error_ = absl::InvalidArgumentError(
        base::StrCat("pgoutput message truncated at byte ", at_, " of ", b_.size()));
    return false;
  }
  // A WAL position: below 2^63 - 1, so that one past it is still an LSN.
  int64_t Lsn() {
    const uint64_t v = Int(8);
    if (v >= static_cast<uint64_t>(INT64_MAX)) Fail("WAL position out of range");
    return static_cast<int64_t>(v);
  }
  uint64_t Int(int bytes) {
    if (!Need(static_cast<size_t>(bytes))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(b_[at_++]);
    return v;
  }
  char Byte() { return static_cast<char>(Int(1)); }
  std::string String() {  // NUL-terminated
    const size_t end = b_.find('\0', at_);
    if (end == std::string_view::npos) {
      error_ = absl::InvalidArgumentError("pgoutput string without its terminating NUL");
      at_ = b_.size();
      return "";
    }
    std::string s(b_.substr(at_, end - at_));
    at_ = end + 1;
    return s;
  }
  std::string Bytes(size_t n) {
    if (!Need(n)) return "";
    std::string s(b_.substr(at_, n));
    at_ += n;
    return s;
  }
  Tuple ReadTuple() {
    const auto n = static_cast<int>(Int(2));
    Tuple t;
    for (int i = 0; i < n && error_.ok(); ++i) {
      Value v;
      switch (Byte()) {
        case 'n':
          v.kind = Value::Kind::kNull;
          break;
        case 'u':
          v.kind = Value::Kind::kUnchangedToast;
          break;
        case 't': {
          v.kind = Value::Kind::kText;
          v.text = Bytes(static_cast<uint32_t>(Int(4)));
          break;
        }
        default:  // 'b' (binary) is only sent when asked for; anything else is corrupt
          Fail("tuple column of unknown kind");
      }
      t.push_back(std::move(v));
    }
    return t;
  }
  void Fail(std::string_view why) {
    if (error_.ok()) error_ = absl::InvalidArgumentError(base::StrCat("pgoutput: ", why));
  }
  bool AtEnd() const { return at_ == b_.size(); }
  const absl::Status& error() const { return error_; }

 private:
  std::string_view b_;
  size_t at_ = 0;
  absl::Status error_;
};

int64_t UnixMicros(uint64_t pg_micros) {
  // Wraps (defined for unsigned) rather than overflow on a corrupt time.
  return static_cast<int64_t>(pg_micros + static_cast<uint64_t>(kPgEpochUnixMicros));
}

}  // namespace

absl::StatusOr<Message> Decode(std::string_view bytes) {
  Reader r(bytes);
  Message m;
  const char tag = r.Byte();
  switch (tag) {
    case 'B':
      m.type = Message::Type::kBegin;
      m.lsn = r.Lsn();
      m.commit_unix_us = UnixMicros(r.Int(8));
      m.xid = static_cast<uint32_t>(r.Int(4));
      break;
    case 'C':
      m.type = Message::Type::kCommit;
      r.Int(1);  // flags, unused
      m.lsn = r.Lsn();
      m.end_lsn = r.Lsn();
      m.commit_unix_us = UnixMicros(r.Int(8));
      break;
    case 'R': {
      m.type = Message::Type::kRelation;
      m.relation.oid = static_cast<uint32_t>(r.Int(4));
      m.relation.schema = r.String();
      m.relation.name = r.String();
      m.relation.replica_identity = r.Byte();
      const auto n = static_cast<int>(r.Int(2));
      for (int i = 0; i < n && r.error().ok(); ++i) {
        Column c;
        c.key = (r.Int(1) & 1) != 0;
        c.name = r.String();
        c.type = static_cast<uint32_t>(r.Int(4));
        r.Int(4);  // type modifier
        m.relation.columns.push_back(std::move(c));
      }
      break;
    }
    case 'I':
      m.type = Message::Type::kInsert;
      m.relation_oid = static_cast<uint32_t>(r.Int(4));
      if (r.Byte() != 'N') r.Fail("insert without a new tuple");
      m.new_tuple = r.ReadTuple();
      break;
    case 'U': {
      m.type = Message::Type::kUpdate;
      m.relation_oid = static_cast<uint32_t>(r.Int(4));
      char next = r.Byte();
      if (next == 'K' || next == 'O') {
        m.old_kind = next;
        m.old_tuple = r.ReadTuple();
        next = r.Byte();
      }
      if (next != 'N') r.Fail("update without a new tuple");
      m.new_tuple = r.ReadTuple();
      break;
    }
    case 'D':
      m.type = Message::Type::kDelete;
      m.relation_oid = static_cast<uint32_t>(r.Int(4));
      m.old_kind = r.Byte();
      if (m.old_kind != 'K' && m.old_kind != 'O') r.Fail("delete without the old key");
      m.old_tuple = r.ReadTuple();
      break;
    case 'T': {
      m.type = Message::Type::kTruncate;
      const auto n = static_cast<uint32_t>(r.Int(4));
      r.Int(1);  // options (CASCADE, RESTART IDENTITY)
      if (!r.Need(static_cast<size_t>(n) * 4)) break;
      for (uint32_t i = 0; i < n; ++i) m.truncated.push_back(static_cast<uint32_t>(r.Int(4)));
      break;
    }
    case 'O':
    case 'Y':
    case 'M':
      return m;  // kOther: origin, type and logical messages carry no row change
    default:
      r.Fail(base::StrCat("unknown message type '", std::string(1, tag), "'"));
  }
  CMO_RETURN_IF_ERROR(r.error());
  if (!r.AtEnd()) return absl::InvalidArgumentError("pgoutput message has trailing bytes");
  return m;
}

}  // namespace cmo::shadow::pgoutput
