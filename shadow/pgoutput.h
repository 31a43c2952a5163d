// Decodes the messages of PostgreSQL's built-in logical decoding plugin `pgoutput`, protocol
// version 1 (PostgreSQL manual, "Logical Replication Message Formats"): what a slot streams
// through base/pg_replication.h. Version 1 sends each transaction whole, after it committed,
// in commit order: Begin, its row changes, Commit. Relation messages describe a table (its
// columns, which of them form the replica identity) before its first change on a connection,
// and again after its definition changed.
// The bytes come from the network: every length is checked, nothing is trusted (a fuzz target
// runs this, tests/fuzz).
#ifndef CMO_SHADOW_PGOUTPUT_H_
#define CMO_SHADOW_PGOUTPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cmo::shadow::pgoutput {

struct Column {
  std::string name;
  uint32_t type = 0;  // pg_type OID
  bool key = false;   // part of the replica identity
};

struct Relation {
  uint32_t oid = 0;
  std::string schema;
  std::string name;
  char replica_identity = 'd';  // d default (primary key), n nothing, f full, i index
  std::vector<Column> columns;
};

struct Value {
  enum class Kind { kNull, kUnchangedToast, kText };
  Kind kind = Kind::kNull;
  std::string text;  // kText: the value in the type's text form
};
using Tuple = std::vector<Value>;

struct Message {
  enum class Type { kBegin, kCommit, kRelation, kInsert, kUpdate, kDelete, kTruncate, kOther };
  Type type = Type::kOther;
  // kBegin: the transaction's commit LSN (final_lsn); kCommit: the commit record's LSN.
  int64_t lsn = 0;
  int64_t end_lsn = 0;         // kCommit: the end of the commit record
  int64_t commit_unix_us = 0;  // kBegin, kCommit
  uint32_t xid = 0;            // kBegin
  Relation relation;           // kRelation
  uint32_t relation_oid = 0;   // kInsert, kUpdate, kDelete
  // kUpdate (when the key changed, or REPLICA IDENTITY FULL) and kDelete: the old row's key
  // ('K': replica identity columns only, others null) or whole row ('O'); 0 when absent.
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;                  // kInsert, kUpdate
  std::vector<uint32_t> truncated;  // kTruncate: relation OIDs
};

// kInvalidArgument naming what is wrong for anything that is not a well-formed message.
// Types this version does not act on (Origin, Type, logical Message) decode as kOther.
absl::StatusOr<Message> Decode(std::string_view bytes);

}  // namespace cmo::shadow::pgoutput

#endif  // CMO_SHADOW_PGOUTPUT_H_
