// Store methods for what Dokku adds: ports, storage, checks, services, links.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dokku_names.h"
#include "common/status_macros.h"
#include "controller/store/store.h"

namespace dflow::store {
namespace {

constexpr const char* kServiceColumns =
    "name, kind, server, exposed, exposed_port, dsn, created_at_ms";

Service ServiceFromRow(const Stmt& st) {
  Service s;
  s.name = st.Text(0);
  s.kind = st.Text(1);
  s.server = st.Text(2);
  s.exposed = st.Int(3) != 0;
  s.exposed_port = static_cast<int>(st.Int(4));
  s.dsn = ServiceUrlWithoutPassword(st.Text(5));  // a row an older controller wrote
  s.created_at_ms = st.Int(6);
  return s;
}

}  // namespace

absl::Status Store::SetAppPorts(const std::string& app, const std::vector<std::string>& maps) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(app).status());
    ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM app_ports WHERE app = ?"));
    RETURN_IF_ERROR(del.Bind(1, app).Exec());
    for (size_t i = 0; i < maps.size(); ++i) {
      ASSIGN_OR_RETURN(Stmt put,
                       db_->Prepare("INSERT INTO app_ports (app, position, map) VALUES (?, ?, ?)"));
      RETURN_IF_ERROR(put.Bind(1, app).Bind(2, static_cast<int64_t>(i)).Bind(3, maps[i]).Exec());
    }
    return AppendEventLocked("app.ports", "", app,
                             absl::StrCat("ports of ", app, ": ", absl::StrJoin(maps, " ")));
  });
}

absl::Status Store::AddAppStorage(const std::string& app, const StorageMount& mount) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(app).status());
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT source, chown FROM app_storage WHERE app = ? "
                                            "AND container_dir = ?"));
    get.Bind(1, app).Bind(2, mount.container_dir);
    ASSIGN_OR_RETURN(bool found, get.Step());
    const std::string chown = StorageChownOrDefault(mount.source, mount.chown);
    if (found) {
      if (get.Text(0) == mount.source) {
        if (StorageChownOrDefault(mount.source, get.Text(1)) == chown) return absl::OkStatus();
        // The same storage with another owner: kept, so the next apply chowns.
        ASSIGN_OR_RETURN(Stmt set, db_->Prepare("UPDATE app_storage SET chown = ? WHERE app = ? "
                                                "AND container_dir = ?"));
        RETURN_IF_ERROR(set.Bind(1, chown).Bind(2, app).Bind(3, mount.container_dir).Exec());
        return AppendEventLocked("app.storage_mounted", "", app,
                                 absl::StrCat(app, " mounts ", mount.source, " at ",
                                              mount.container_dir, " owned by ", chown));
      }
      return absl::AlreadyExistsError(absl::StrCat(
          mount.container_dir, " of ", app, " already mounts ", get.Text(0),
          "; unmount it first (`dflow storage unmount ", app, " ", mount.container_dir, "`)"));
    }
    ASSIGN_OR_RETURN(Stmt put, db_->Prepare("INSERT INTO app_storage (app, source, container_dir, "
                                            "chown) VALUES (?, ?, ?, ?)"));
    RETURN_IF_ERROR(
        put.Bind(1, app).Bind(2, mount.source).Bind(3, mount.container_dir).Bind(4, chown).Exec());
    return AppendEventLocked(
        "app.storage_mounted", "", app,
        absl::StrCat(app, " mounts ", mount.source, " at ", mount.container_dir));
  });
}

absl::StatusOr<StorageMount> Store::RemoveAppStorage(const std::string& app,
                                                     const std::string& container_dir) {
  std::lock_guard lock(mu_);
  StorageMount removed;
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT source, chown FROM app_storage WHERE app = ? "
                                            "AND container_dir = ?"));
    get.Bind(1, app).Bind(2, container_dir);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (!found) {
      return absl::NotFoundError(absl::StrCat("app ", app, " mounts nothing at ", container_dir,
                                              "; see `dflow storage ls ", app, "`"));
    }
    removed = {get.Text(0), container_dir, StorageChownOrDefault(get.Text(0), get.Text(1))};
    ASSIGN_OR_RETURN(Stmt del,
                     db_->Prepare("DELETE FROM app_storage WHERE app = ? AND container_dir = ?"));
    RETURN_IF_ERROR(del.Bind(1, app).Bind(2, container_dir).Exec());
    return AppendEventLocked(
        "app.storage_unmounted", "", app,
        absl::StrCat(app, " no longer mounts ", removed.source, " at ", container_dir));
  }));
  return removed;
}

absl::Status Store::SetAppCheck(const std::string& app, const std::string& key,
                                const std::string& value) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(app).status());
    ASSIGN_OR_RETURN(Stmt put, db_->Prepare("INSERT INTO app_checks (app, key, value) VALUES "
                                            "(?, ?, ?) ON CONFLICT(app, key) DO UPDATE SET "
                                            "value = excluded.value"));
    RETURN_IF_ERROR(put.Bind(1, app).Bind(2, key).Bind(3, value).Exec());
    return AppendEventLocked("app.checks", "", app,
                             absl::StrCat("check ", key, " of ", app, " set to ", value));
  });
}

absl::Status Store::RemoveAppCheck(const std::string& app, const std::string& key) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM app_checks WHERE app = ? AND key = ?"));
    RETURN_IF_ERROR(del.Bind(1, app).Bind(2, key).Exec());
    return AppendEventLocked("app.checks", "", app,
                             absl::StrCat("check ", key, " of ", app, " no longer set"));
  });
}

absl::StatusOr<AppExtras> Store::GetAppExtras(const std::string& app) {
  std::lock_guard lock(mu_);
  AppExtras e;
  ASSIGN_OR_RETURN(Stmt ports,
                   db_->Prepare("SELECT map FROM app_ports WHERE app = ? ORDER BY position"));
  ports.Bind(1, app);
  while (true) {
    ASSIGN_OR_RETURN(bool row, ports.Step());
    if (!row) break;
    e.ports.push_back(ports.Text(0));
  }
  ASSIGN_OR_RETURN(Stmt storage,
                   db_->Prepare("SELECT source, container_dir, chown FROM app_storage "
                                "WHERE app = ? ORDER BY container_dir"));
  storage.Bind(1, app);
  while (true) {
    ASSIGN_OR_RETURN(bool row, storage.Step());
    if (!row) break;
    e.storage.push_back({storage.Text(0), storage.Text(1),
                         StorageChownOrDefault(storage.Text(0), storage.Text(2))});
  }
  ASSIGN_OR_RETURN(Stmt checks,
                   db_->Prepare("SELECT key, value FROM app_checks WHERE app = ? ORDER BY key"));
  checks.Bind(1, app);
  while (true) {
    ASSIGN_OR_RETURN(bool row, checks.Step());
    if (!row) break;
    e.checks[checks.Text(0)] = checks.Text(1);
  }
  ASSIGN_OR_RETURN(
      Stmt links,
      db_->Prepare("SELECT s.name, s.kind, s.server, s.exposed, s.exposed_port, s.dsn, "
                   "s.created_at_ms, l.split_prefix FROM services s JOIN service_links l ON "
                   "l.service = s.name WHERE l.app = ? ORDER BY s.name"));
  links.Bind(1, app);
  while (true) {
    ASSIGN_OR_RETURN(bool row, links.Step());
    if (!row) break;
    Service s = ServiceFromRow(links);
    s.links.push_back({s.name, app, links.Text(7)});
    e.services.push_back(std::move(s));
  }
  return e;
}

absl::Status Store::CreateService(const Service& s) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT kind, server FROM services WHERE name = ?"));
    get.Bind(1, s.name);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (found) {
      return absl::AlreadyExistsError(absl::StrCat("service ", s.name, " already exists (",
                                                   get.Text(0), " on ", get.Text(1), ")"));
    }
    ASSIGN_OR_RETURN(Stmt put, db_->Prepare(absl::StrCat("INSERT INTO services (", kServiceColumns,
                                                         ") VALUES (?, ?, ?, ?, ?, ?, ?)")));
    RETURN_IF_ERROR(put.Bind(1, s.name)
                        .Bind(2, s.kind)
                        .Bind(3, s.server)
                        .Bind(4, int64_t{s.exposed})
                        .Bind(5, s.exposed_port)
                        .Bind(6, ServiceUrlWithoutPassword(s.dsn))
                        .Bind(7, clock_->NowMs())
                        .Exec());
    return AppendEventLocked(
        "service.created", s.server, "",
        absl::StrCat(s.kind, " service ", s.name, " created on ", s.server,
                     s.exposed ? absl::StrCat(", exposed on port ", s.exposed_port) : ""));
  });
}

// Stores written before the URL lost its password: the password is taken out
// of every row, with secure_delete so the old bytes are overwritten, and the
// WAL truncated so no copy stays there either.
absl::Status Store::ScrubServicePasswords() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> changed;
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT name, dsn FROM services"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string clean = ServiceUrlWithoutPassword(st.Text(1));
    if (clean != st.Text(1)) changed.emplace_back(st.Text(0), clean);
  }
  if (changed.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(db_->Exec("PRAGMA secure_delete=ON"));
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    for (const auto& [name, clean] : changed) {
      ASSIGN_OR_RETURN(Stmt put, db_->Prepare("UPDATE services SET dsn = ? WHERE name = ?"));
      RETURN_IF_ERROR(put.Bind(1, clean).Bind(2, name).Exec());
    }
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  return db_->Exec("PRAGMA secure_delete=OFF");
}

absl::StatusOr<std::vector<Service>> Store::ListServices() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat("SELECT ", kServiceColumns,
                                                      " FROM services ORDER BY name")));
  std::vector<Service> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ServiceFromRow(st));
  }
  ASSIGN_OR_RETURN(Stmt links, db_->Prepare("SELECT service, app, split_prefix FROM "
                                            "service_links ORDER BY service, app"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, links.Step());
    if (!row) break;
    for (auto& s : out) {
      if (s.name == links.Text(0)) s.links.push_back({links.Text(0), links.Text(1), links.Text(2)});
    }
  }
  return out;
}

absl::StatusOr<Service> Store::GetService(const std::string& name) {
  ASSIGN_OR_RETURN(auto all, ListServices());
  for (auto& s : all) {
    if (s.name == name) return std::move(s);
  }
  return absl::NotFoundError(
      absl::StrCat("no service named ", name, "; `dflow services ls` lists them"));
}

absl::Status Store::DeleteService(const std::string& name) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt links, db_->Prepare("SELECT app FROM service_links WHERE service = ?"));
    links.Bind(1, name);
    std::vector<std::string> apps;
    while (true) {
      ASSIGN_OR_RETURN(bool row, links.Step());
      if (!row) break;
      apps.push_back(links.Text(0));
    }
    if (!apps.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("service ", name, " is linked to ", absl::StrJoin(apps, ", "),
                       "; unlink it first (`dflow services unlink ", name, " APP`)"));
    }
    ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM services WHERE name = ?"));
    RETURN_IF_ERROR(del.Bind(1, name).Exec());
    return AppendEventLocked("service.destroyed", "", "",
                             absl::StrCat("service ", name, " destroyed"));
  });
}

absl::Status Store::LinkService(const ServiceLink& link) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(link.app).status());
    ASSIGN_OR_RETURN(Stmt put, db_->Prepare("INSERT INTO service_links (service, app, "
                                            "split_prefix, created_at_ms) VALUES (?, ?, ?, ?) "
                                            "ON CONFLICT(service, app) DO UPDATE SET "
                                            "split_prefix = excluded.split_prefix"));
    RETURN_IF_ERROR(put.Bind(1, link.service)
                        .Bind(2, link.app)
                        .Bind(3, link.split_prefix)
                        .Bind(4, clock_->NowMs())
                        .Exec());
    return AppendEventLocked("service.linked", "", link.app,
                             absl::StrCat("service ", link.service, " linked to ", link.app));
  });
}

absl::Status Store::UnlinkService(const std::string& service, const std::string& app) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt del,
                     db_->Prepare("DELETE FROM service_links WHERE service = ? AND app = ?"));
    RETURN_IF_ERROR(del.Bind(1, service).Bind(2, app).Exec());
    if (db_->Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("service ", service, " is not linked to ", app));
    }
    return AppendEventLocked("service.unlinked", "", app,
                             absl::StrCat("service ", service, " unlinked from ", app));
  });
}

}  // namespace dflow::store
