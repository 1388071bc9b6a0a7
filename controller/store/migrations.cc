// Schema history. Never edit a shipped migration: add a new one.
#include "controller/store/store.h"

namespace dflow::store {

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: inventory, enrolment and the event log.
      R"sql(
CREATE TABLE servers (
  name TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  runtime TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  health TEXT NOT NULL DEFAULT 'healthy',
  draining INTEGER NOT NULL DEFAULT 0,
  facts TEXT NOT NULL DEFAULT '{}',
  last_heartbeat_ms INTEGER NOT NULL DEFAULT 0,
  joined_at_ms INTEGER NOT NULL
);
CREATE TABLE certificates (
  fingerprint TEXT PRIMARY KEY,
  server TEXT NOT NULL,
  issued_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
);
CREATE TABLE join_tokens (
  id TEXT PRIMARY KEY,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  used_at_ms INTEGER,
  used_by TEXT
);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  server TEXT NOT NULL DEFAULT '',
  app TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL
);
)sql",
      // 2: look-ups by time (?modifiedSince) and by server.
      R"sql(
CREATE INDEX events_by_time ON events(time_ms);
CREATE INDEX certificates_by_server ON certificates(server);
)sql",
  };
  return kMigrations;
}

}  // namespace dflow::store
