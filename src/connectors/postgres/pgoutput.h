// The pgoutput logical replication protocol (PostgreSQL docs, "Logical Replication Message
// Formats", protocol version 1) and the replication stream that carries it ("Streaming
// Replication Protocol": XLogData, Primary keepalive, Standby status update), decoded by
// hand: no library of Debian's wraps it. Used by the CDC source (postgres_cdc_source.h).
//
// decode_pgoutput() parses one pgoutput message into a PgOutputMessage the caller reuses
// (its vectors keep their capacity; tuple values are views into the message bytes, valid
// while those are). Pure functions, no I/O; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

// LSNs as PostgreSQL writes them: "16/B374D848" (two hex halves).
std::string format_lsn(uint64_t lsn);
std::optional<uint64_t> parse_lsn(std::string_view text);

struct PgOutputColumn {
  bool key = false;  // part of the replica identity (every column with REPLICA IDENTITY FULL)
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;
};

struct PgOutputRelation {
  uint32_t id = 0;
  std::string schema;
  std::string name;
  char replica_identity = 'd';  // d(efault), n(othing), f(ull), i(ndex)
  std::vector<PgOutputColumn> columns;
};

// One value of a TupleData: NULL, an unchanged TOASTed value (not sent: an UPDATE that did
// not touch it), or its text representation.
struct PgOutputValue {
  enum class Kind : char { kNull = 'n', kUnchangedToast = 'u', kText = 't' };
  Kind kind = Kind::kNull;
  std::string_view text;
};

struct PgOutputMessage {
  enum class Kind { kBegin, kCommit, kOrigin, kRelation, kType, kInsert, kUpdate, kDelete, kTruncate, kMessage };
  Kind kind = Kind::kBegin;
  // kBegin: final_lsn (the commit record's LSN), timestamp_us (commit time, since
  // 2000-01-01), xid. kCommit: commit_lsn, end_lsn (the end of the commit record: where
  // streaming resumes after this transaction), timestamp_us.
  uint64_t final_lsn = 0;
  uint64_t commit_lsn = 0;
  uint64_t end_lsn = 0;
  int64_t timestamp_us = 0;
  uint32_t xid = 0;
  // kRelation
  PgOutputRelation relation;
  // kInsert / kUpdate / kDelete: the relation, the old tuple ('K': its replica identity key
  // columns only, other values NULL; 'O': the whole old row; 0: none) and the new tuple
  // (insert, update).
  uint32_t relation_id = 0;
  char old_kind = 0;
  std::vector<PgOutputValue> old_values;
  std::vector<PgOutputValue> new_values;
  // kTruncate
  std::vector<uint32_t> truncated;
};

// Parses one pgoutput message (the payload of an XLogData). kInvalidArgument naming the
// message type and offset when the bytes are not a valid message.
Status decode_pgoutput(std::string_view bytes, PgOutputMessage& out);

// The replication stream's CopyData messages from the server.
struct ReplicationFrame {
  enum class Kind { kXLogData, kKeepalive };
  Kind kind = Kind::kXLogData;
  uint64_t wal_start = 0;  // kXLogData: where the data starts
  uint64_t wal_end = 0;    // the server's current end of WAL (kKeepalive: everything before it was sent)
  bool reply_requested = false;
  std::string_view data;  // kXLogData: the pgoutput message
};
Status decode_replication_frame(std::string_view bytes, ReplicationFrame& out);

// A Standby status update ('r'): written, flushed and applied LSNs; `now_us` since 2000-01-01.
std::string standby_status_update(uint64_t written, uint64_t flushed, uint64_t applied, int64_t now_us,
                                  bool reply_requested = false);

}  // namespace sluice
