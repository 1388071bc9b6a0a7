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
      // 3: apps, releases, instances and durable operations.
      R"sql(
CREATE TABLE apps (
  name TEXT PRIMARY KEY,
  constraints TEXT NOT NULL DEFAULT '{}',
  memory_bytes INTEGER NOT NULL DEFAULT 0,
  cpus REAL NOT NULL DEFAULT 0,
  health_path TEXT NOT NULL DEFAULT '',
  strategy TEXT NOT NULL DEFAULT 'spread',
  scale TEXT NOT NULL DEFAULT '{}',
  config TEXT NOT NULL DEFAULT '{}',
  current_release INTEGER NOT NULL DEFAULT 0,
  pinned_server TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE releases (
  app TEXT NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  source_digest TEXT NOT NULL,
  procfile TEXT NOT NULL,
  config TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'pending',
  created_by TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (app, version)
);
CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  app TEXT NOT NULL,
  process TEXT NOT NULL,
  release INTEGER NOT NULL,
  server TEXT NOT NULL,
  port INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL,
  started_at_ms INTEGER NOT NULL DEFAULT 0,
  op_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX instances_by_app ON instances(app);
CREATE INDEX instances_by_server ON instances(server);
CREATE TABLE ops (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  params TEXT NOT NULL DEFAULT '{}',
  release INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL DEFAULT 0,
  ended_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ops_by_app ON ops(app, id);
CREATE TABLE op_steps (
  op_id INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  kind TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'pending',
  result TEXT NOT NULL DEFAULT '{}',
  output TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  started_at_ms INTEGER NOT NULL DEFAULT 0,
  ended_at_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (op_id, idx)
);
)sql",
      // 4: routing: settings (base domain), custom domains, app certificates.
      R"sql(
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE domains (
  host TEXT PRIMARY KEY,
  app TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE INDEX domains_by_app ON domains(app);
CREATE TABLE app_certs (
  app TEXT PRIMARY KEY,
  cert_pem TEXT NOT NULL,
  key_pem TEXT NOT NULL,
  not_after_ms INTEGER NOT NULL,
  added_at_ms INTEGER NOT NULL
);
)sql",
      // git (issue 7): per-app settings (deploy branch, forge URL, webhook secret),
      // SSH push keys and webhook deliveries (replay detection, last result).
      R"sql(
CREATE TABLE app_git (
  app TEXT PRIMARY KEY,
  branch TEXT NOT NULL DEFAULT '',
  git_url TEXT NOT NULL DEFAULT '',
  webhook_secret TEXT NOT NULL DEFAULT ''
);
CREATE TABLE push_keys (
  name TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  blob TEXT NOT NULL UNIQUE,
  fingerprint TEXT NOT NULL,
  apps TEXT NOT NULL DEFAULT '[]',
  all_apps INTEGER NOT NULL DEFAULT 0,
  added_at_ms INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  forge TEXT NOT NULL,
  app TEXT NOT NULL,
  delivery TEXT NOT NULL,
  sha TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  op_id INTEGER NOT NULL DEFAULT 0,
  release INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  received_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  UNIQUE (forge, app, delivery)
);
CREATE INDEX webhook_deliveries_by_app ON webhook_deliveries(app, seq);
)sql",
      // Themes (issue 6): installs and the secrets generated for each app.
      R"sql(
CREATE TABLE theme_installs (
  app TEXT PRIMARY KEY,
  theme TEXT NOT NULL,
  version TEXT NOT NULL,
  inputs TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL,
  op_id INTEGER NOT NULL DEFAULT 0,
  keep_on_failure INTEGER NOT NULL DEFAULT 0,
  created_app INTEGER NOT NULL DEFAULT 1,
  error TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  secrets_generated INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE theme_secrets (
  app TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (app, name)
);
)sql",
      // Dokku extras (issue 5): ports, storage mounts, check settings,
      // services and their links; the image a release deploys.
      R"sql(
CREATE TABLE app_ports (
  app TEXT NOT NULL,
  position INTEGER NOT NULL,
  map TEXT NOT NULL,
  PRIMARY KEY (app, position)
);
CREATE TABLE app_storage (
  app TEXT NOT NULL,
  source TEXT NOT NULL,
  container_dir TEXT NOT NULL,
  PRIMARY KEY (app, container_dir)
);
CREATE TABLE app_checks (
  app TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (app, key)
);
CREATE TABLE services (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  server TEXT NOT NULL,
  exposed INTEGER NOT NULL DEFAULT 0,
  exposed_port INTEGER NOT NULL DEFAULT 0,
  dsn TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE service_links (
  service TEXT NOT NULL,
  app TEXT NOT NULL,
  split_prefix TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (service, app)
);
CREATE INDEX service_links_by_app ON service_links(app);
ALTER TABLE releases ADD COLUMN image TEXT NOT NULL DEFAULT '';
)sql",
      // Git deploys (issue 7): the commit a release was built from and who pushed it.
      R"sql(
ALTER TABLE releases ADD COLUMN commit_sha TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN pushed_by TEXT NOT NULL DEFAULT '';
)sql",
      // Themes (issue 6): an app's own health check timeout (healthcheck.timeout).
      R"sql(
ALTER TABLE apps ADD COLUMN health_timeout_ms INTEGER NOT NULL DEFAULT 0;
)sql",
      // Themes (issue 6): what an upgrade changed besides the config, put back
      // when it fails (JSON: health_path, health_timeout_ms).
      R"sql(
ALTER TABLE theme_installs ADD COLUMN previous TEXT NOT NULL DEFAULT '';
)sql",
      // Themes (issue 6): the custom domains a theme gave its app (JSON array),
      // so an upgrade removes those the new version drops and no others.
      R"sql(
ALTER TABLE theme_installs ADD COLUMN domains TEXT NOT NULL DEFAULT '[]';
)sql",
      // Removals a server missed while unreachable (an app's destroy, a Dokku
      // setting removed), finished by the reconciler when it returns.
      R"sql(
CREATE TABLE pending_removals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  server TEXT NOT NULL,
  app TEXT NOT NULL,
  kind TEXT NOT NULL,
  params TEXT NOT NULL DEFAULT '{}',
  what TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  op_id INTEGER NOT NULL DEFAULT 0,
  step_index INTEGER NOT NULL DEFAULT 0,
  UNIQUE (op_id, step_index, server)
);
)sql",
      // Storage owners: who owns a named storage's host directory (Dokku's
      // --chown words); '' for a host path, and read as herokuish for rows
      // written before, which is what Dokku 0.35 gave them.
      R"sql(
ALTER TABLE app_storage ADD COLUMN chown TEXT NOT NULL DEFAULT '';
)sql",
  };
  return kMigrations;
}

}  // namespace dflow::store
