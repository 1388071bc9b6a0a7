#include "controller/store/store.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace dflow::store {
namespace {

using json = nlohmann::json;

std::string FactsToJson(const Facts& f) {
  return json{{"cpus", f.cpus},
              {"memory_total_bytes", f.memory_total_bytes},
              {"memory_available_bytes", f.memory_available_bytes},
              {"disk_total_bytes", f.disk_total_bytes},
              {"disk_free_bytes", f.disk_free_bytes},
              {"os", f.os},
              {"agent_version", f.agent_version},
              {"runtime", f.runtime},
              {"dokku_version", f.dokku_version}}
      .dump();
}

Facts FactsFromJson(const std::string& text) {
  Facts f;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return f;
  f.cpus = j.value("cpus", 0);
  f.memory_total_bytes = j.value("memory_total_bytes", int64_t{0});
  f.memory_available_bytes = j.value("memory_available_bytes", int64_t{0});
  f.disk_total_bytes = j.value("disk_total_bytes", int64_t{0});
  f.disk_free_bytes = j.value("disk_free_bytes", int64_t{0});
  f.os = j.value("os", "");
  f.agent_version = j.value("agent_version", "");
  f.runtime = j.value("runtime", "");
  f.dokku_version = j.value("dokku_version", "");
  return f;
}

std::string LabelsToJson(const std::map<std::string, std::string>& labels) {
  return json(labels).dump();
}

std::map<std::string, std::string> LabelsFromJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return {};
  return j.get<std::map<std::string, std::string>>();
}

absl::Status NoSuchServer(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("server \"", name,
                                          "\" is not registered; `dflow servers ls` lists the "
                                          "registered servers"));
}

constexpr const char* kServerColumns =
    "name, address, runtime, labels, health, draining, facts, last_heartbeat_ms, joined_at_ms";

Server ServerFromRow(const Stmt& st) {
  Server s;
  s.name = st.Text(0);
  s.address = st.Text(1);
  s.runtime = st.Text(2);
  s.labels = LabelsFromJson(st.Text(3));
  s.health = st.Text(4) == "unreachable" ? Health::kUnreachable : Health::kHealthy;
  s.draining = st.Int(5) != 0;
  s.facts = FactsFromJson(st.Text(6));
  s.last_heartbeat_ms = st.Int(7);
  s.joined_at_ms = st.Int(8);
  return s;
}

}  // namespace

const char* HealthName(Health h) { return h == Health::kHealthy ? "healthy" : "unreachable"; }

std::string Event::Token() const { return absl::StrCat(time_ms, "_", seq); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, Clock* clock) {
  ASSIGN_OR_RETURN(auto store, OpenAtVersion(path, clock, static_cast<int>(Migrations().size())));
  RETURN_IF_ERROR(store->ScrubServicePasswords());
  return store;
}

absl::StatusOr<std::unique_ptr<Store>> Store::OpenAtVersion(const std::string& path, Clock* clock,
                                                            int version) {
  auto db = Db::Open(path);
  if (!db.ok()) return db.status();
  std::unique_ptr<Store> store(new Store(std::move(*db), clock));
  RETURN_IF_ERROR(store->Migrate(version));
  return store;
}

absl::Status Store::Migrate(int target) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(
      db_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "applied_at_ms INTEGER NOT NULL)"));
  auto st = db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!st.ok()) return st.status();
  auto row = st->Step();
  if (!row.ok()) return row.status();
  int current = static_cast<int>(st->Int(0));
  const auto& all = Migrations();
  if (current > static_cast<int>(all.size())) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", db_->path(), " has schema version ", current,
                     " but this dflow-controller knows only up to ", all.size(),
                     "; run a newer dflow-controller"));
  }
  for (int v = current + 1; v <= target; ++v) {
    RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
      if (auto s = db_->Exec(all[v - 1]); !s.ok()) {
        return absl::InternalError(absl::StrCat("migration ", v, " failed: ", s.message()));
      }
      auto ins = db_->Prepare("INSERT INTO schema_migrations(version, applied_at_ms) VALUES(?, ?)");
      if (!ins.ok()) return ins.status();
      return ins->Bind(1, v).Bind(2, clock_->NowMs()).Exec();
    }));
  }
  return absl::OkStatus();
}

int Store::SchemaVersion() {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!st.ok() || !st->Step().value_or(false)) return 0;
  return static_cast<int>(st->Int(0));
}

absl::Status Store::AppendEventLocked(const std::string& kind, const std::string& server,
                                      const std::string& app, const std::string& message) {
  auto st =
      db_->Prepare("INSERT INTO events(time_ms, kind, server, app, message) VALUES(?,?,?,?,?)");
  if (!st.ok()) return st.status();
  return st->Bind(1, clock_->NowMs())
      .Bind(2, kind)
      .Bind(3, server)
      .Bind(4, app)
      .Bind(5, message)
      .Exec();
}

absl::Status Store::AppendEvent(const std::string& kind, const std::string& server,
                                const std::string& app, const std::string& message) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&] { return AppendEventLocked(kind, server, app, message); });
}

absl::Status Store::CreateJoinToken(const std::string& token_id, int64_t expires_at_ms) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    auto st =
        db_->Prepare("INSERT INTO join_tokens(id, created_at_ms, expires_at_ms) VALUES(?,?,?)");
    if (!st.ok()) return st.status();
    RETURN_IF_ERROR(st->Bind(1, token_id).Bind(2, clock_->NowMs()).Bind(3, expires_at_ms).Exec());
    return AppendEventLocked(
        "token.created", "", "",
        absl::StrCat("join token created, valid until ", FormatRfc3339(expires_at_ms)));
  });
}

absl::Status Store::JoinServer(const JoinRecord& rec) {
  std::lock_guard lock(mu_);
  int64_t now = clock_->NowMs();
  return db_->Transaction([&]() -> absl::Status {
    auto tok =
        db_->Prepare("SELECT expires_at_ms, used_at_ms, used_by FROM join_tokens WHERE id = ?");
    if (!tok.ok()) return tok.status();
    tok->Bind(1, rec.token_id);
    auto found = tok->Step();
    if (!found.ok()) return found.status();
    if (!*found) {
      return absl::PermissionDeniedError(
          "join token is not known to this controller; create one with `dflow servers join-token`");
    }
    if (!tok->IsNull(1)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "join token was already used (by server \"", tok->Text(2), "\" at ",
          FormatRfc3339(tok->Int(1)),
          "); tokens are single-use: create a new one with `dflow servers join-token`"));
    }
    if (tok->Int(0) <= now) {
      return absl::PermissionDeniedError(
          absl::StrCat("join token expired at ", FormatRfc3339(tok->Int(0)),
                       "; create a new one with `dflow servers join-token`"));
    }
    auto exists = db_->Prepare("SELECT 1 FROM servers WHERE name = ?");
    if (!exists.ok()) return exists.status();
    exists->Bind(1, rec.name);
    if (exists->Step().value_or(false)) {
      return absl::AlreadyExistsError(
          absl::StrCat("a server named \"", rec.name,
                       "\" is already registered; pick another --name, or remove "
                       "the old one first with `dflow servers rm ",
                       rec.name, "`"));
    }
    auto ins = db_->Prepare(
        "INSERT INTO servers(name, address, runtime, labels, facts, last_heartbeat_ms, "
        "joined_at_ms) "
        "VALUES(?,?,?,?,?,?,?)");
    if (!ins.ok()) return ins.status();
    RETURN_IF_ERROR(ins->Bind(1, rec.name)
                        .Bind(2, rec.address)
                        .Bind(3, rec.runtime)
                        .Bind(4, LabelsToJson(rec.labels))
                        .Bind(5, FactsToJson(rec.facts))
                        .Bind(6, now)
                        .Bind(7, now)
                        .Exec());
    auto cert =
        db_->Prepare("INSERT INTO certificates(fingerprint, server, issued_at_ms) VALUES(?,?,?)");
    if (!cert.ok()) return cert.status();
    RETURN_IF_ERROR(cert->Bind(1, rec.cert_fingerprint).Bind(2, rec.name).Bind(3, now).Exec());
    auto use = db_->Prepare("UPDATE join_tokens SET used_at_ms = ?, used_by = ? WHERE id = ?");
    if (!use.ok()) return use.status();
    RETURN_IF_ERROR(use->Bind(1, now).Bind(2, rec.name).Bind(3, rec.token_id).Exec());
    return AppendEventLocked("server.joined", rec.name, "",
                             absl::StrCat("server ", rec.name, " joined from ", rec.address,
                                          " (runtime ", rec.runtime, ")"));
  });
}

absl::StatusOr<std::vector<Server>> Store::ListServers() {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare(absl::StrCat("SELECT ", kServerColumns, " FROM servers ORDER BY name"));
  if (!st.ok()) return st.status();
  std::vector<Server> out;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ServerFromRow(*st));
  }
  return out;
}

absl::StatusOr<Server> Store::GetServerLocked(const std::string& name) {
  auto st = db_->Prepare(absl::StrCat("SELECT ", kServerColumns, " FROM servers WHERE name = ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, name);
  auto row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return NoSuchServer(name);
  return ServerFromRow(*st);
}

absl::StatusOr<Server> Store::GetServer(const std::string& name) {
  std::lock_guard lock(mu_);
  return GetServerLocked(name);
}

absl::StatusOr<Server> Store::SetLabels(const std::string& name,
                                        const std::map<std::string, std::string>& set,
                                        const std::vector<std::string>& remove) {
  std::lock_guard lock(mu_);
  Server result;
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    auto server = GetServerLocked(name);
    if (!server.ok()) return server.status();
    for (const auto& key : remove) server->labels.erase(key);
    for (const auto& [k, v] : set) server->labels[k] = v;
    auto st = db_->Prepare("UPDATE servers SET labels = ? WHERE name = ?");
    if (!st.ok()) return st.status();
    RETURN_IF_ERROR(st->Bind(1, LabelsToJson(server->labels)).Bind(2, name).Exec());
    std::vector<std::string> parts;
    for (const auto& [k, v] : server->labels) parts.push_back(absl::StrCat(k, "=", v));
    result = *server;
    return AppendEventLocked(
        "server.labeled", name, "",
        absl::StrCat("labels of ", name, " are now {", absl::StrJoin(parts, ", "), "}"));
  }));
  return result;
}

absl::StatusOr<Server> Store::SetDraining(const std::string& name, bool draining) {
  std::lock_guard lock(mu_);
  Server result;
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    auto server = GetServerLocked(name);
    if (!server.ok()) return server.status();
    result = *server;
    if (server->draining == draining) return absl::OkStatus();
    auto st = db_->Prepare("UPDATE servers SET draining = ? WHERE name = ?");
    if (!st.ok()) return st.status();
    RETURN_IF_ERROR(st->Bind(1, draining ? 1 : 0).Bind(2, name).Exec());
    result.draining = draining;
    return AppendEventLocked(draining ? "server.draining" : "server.undrained", name, "",
                             draining
                                 ? absl::StrCat(name, " is draining: nothing new is placed there")
                                 : absl::StrCat(name, " accepts new placements again"));
  }));
  return result;
}

absl::Status Store::SetHealth(const std::string& name, Health h, const std::string& reason) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    auto st = db_->Prepare("UPDATE servers SET health = ? WHERE name = ? AND health != ?");
    if (!st.ok()) return st.status();
    RETURN_IF_ERROR(st->Bind(1, HealthName(h)).Bind(2, name).Bind(3, HealthName(h)).Exec());
    if (db_->Changes() == 0) return absl::OkStatus();
    return AppendEventLocked(absl::StrCat("server.", HealthName(h)), name, "",
                             absl::StrCat(name, " is ", HealthName(h), ": ", reason));
  });
}

absl::Status Store::RemoveServer(const std::string& name, bool force) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    auto server = GetServerLocked(name);
    if (!server.ok()) return server.status();
    std::map<std::string, int> placed;  // app -> instances recorded on this server
    {
      ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT app, COUNT(*) FROM instances WHERE server = ? "
                                             "GROUP BY app ORDER BY app"));
      st.Bind(1, name);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        placed[st.Text(0)] = static_cast<int>(st.Int(1));
      }
    }
    std::vector<std::string> pinned;
    {
      ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT name FROM apps WHERE pinned_server = ?"));
      st.Bind(1, name);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        pinned.push_back(st.Text(0));
      }
    }
    if (!force && (!placed.empty() || !pinned.empty())) {
      std::vector<std::string> what;
      for (const auto& [app, n] : placed) what.push_back(absl::StrCat(app, " (", n, ")"));
      for (const auto& app : pinned) {
        if (placed.count(app) == 0) what.push_back(absl::StrCat(app, " (pinned)"));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "server ", name, " still has apps placed there: ", absl::StrJoin(what, ", "),
          "; drain it (`dflow servers drain ", name,
          "`) and move them (scale, restart, or `dflow apps pin` elsewhere) first, or remove it "
          "anyway with `dflow servers rm ",
          name, " --force` (their instances are then started elsewhere)"));
    }
    for (const auto& [app, n] : placed) {
      RETURN_IF_ERROR(AppendEventLocked(
          "instance.lost", name, app,
          absl::StrCat(n, " instance(s) of ", app, " forgotten: server ", name,
                       " was removed with --force; they are replaced elsewhere")));
    }
    for (const auto& app : pinned) {
      RETURN_IF_ERROR(AppendEventLocked("app.unpinned", name, app,
                                        absl::StrCat(app, " is no longer pinned: its server ", name,
                                                     " was removed with --force")));
    }
    {
      ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM instances WHERE server = ?"));
      RETURN_IF_ERROR(del.Bind(1, name).Exec());
      ASSIGN_OR_RETURN(Stmt unpin,
                       db_->Prepare("UPDATE apps SET pinned_server = '' WHERE pinned_server = ?"));
      RETURN_IF_ERROR(unpin.Bind(1, name).Exec());
    }
    auto revoke = db_->Prepare(
        "UPDATE certificates SET revoked_at_ms = ? WHERE server = ? AND revoked_at_ms IS NULL");
    if (!revoke.ok()) return revoke.status();
    RETURN_IF_ERROR(revoke->Bind(1, clock_->NowMs()).Bind(2, name).Exec());
    auto del = db_->Prepare("DELETE FROM servers WHERE name = ?");
    if (!del.ok()) return del.status();
    RETURN_IF_ERROR(del->Bind(1, name).Exec());
    return AppendEventLocked("server.removed", name, "",
                             absl::StrCat(name, " was removed and its certificate revoked"));
  });
}

absl::Status Store::RecordFacts(const std::vector<FactsUpdate>& batch) {
  if (batch.empty()) return absl::OkStatus();
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    auto st = db_->Prepare("UPDATE servers SET facts = ?, last_heartbeat_ms = ? WHERE name = ?");
    if (!st.ok()) return st.status();
    for (const auto& u : batch) {
      RETURN_IF_ERROR(
          st->Bind(1, FactsToJson(u.facts)).Bind(2, u.heartbeat_ms).Bind(3, u.name).Exec());
      RETURN_IF_ERROR(st->Reset());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::map<std::string, std::string>> Store::ValidCertificates() {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare(
      "SELECT c.fingerprint, c.server FROM certificates c JOIN servers s ON s.name = c.server "
      "WHERE c.revoked_at_ms IS NULL");
  if (!st.ok()) return st.status();
  std::map<std::string, std::string> out;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out[st->Text(0)] = st->Text(1);
  }
  return out;
}

absl::StatusOr<std::vector<Event>> Store::ListEvents(int64_t after_seq, int limit) {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare(
      "SELECT seq, time_ms, kind, server, app, message FROM events WHERE seq > ? ORDER BY seq "
      "LIMIT ?");
  if (!st.ok()) return st.status();
  st->Bind(1, after_seq).Bind(2, limit);
  std::vector<Event> out;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({st->Int(0), st->Int(1), st->Text(2), st->Text(3), st->Text(4), st->Text(5)});
  }
  return out;
}

absl::StatusOr<std::vector<Event>> Store::RecentEvents(int n) {
  int64_t last = 0;
  {
    std::lock_guard lock(mu_);
    auto st = db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM events");
    if (!st.ok()) return st.status();
    if (auto row = st->Step(); !row.ok()) return row.status();
    last = st->Int(0);
  }
  return ListEvents(std::max<int64_t>(0, last - n), n);
}

}  // namespace dflow::store
