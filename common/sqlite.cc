#include "common/sqlite.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

namespace dflow {
namespace {

absl::Status SqlError(sqlite3* db, int rc, absl::string_view what) {
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = absl::StrCat(what, ": ", msg);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return absl::UnavailableError(text);
  if (primary == SQLITE_CONSTRAINT) return absl::FailedPreconditionError(text);
  return absl::InternalError(text);
}

}  // namespace

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_), bind_error_(std::move(o.bind_error_)) {
  o.s_ = nullptr;
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    db_ = o.db_;
    s_ = o.s_;
    bind_error_ = std::move(o.bind_error_);
    o.s_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt& Stmt::Bind(int index, int64_t v) {
  int rc = sqlite3_bind_int64(s_, index, v);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqlError(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::Bind(int index, double v) {
  int rc = sqlite3_bind_double(s_, index, v);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqlError(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::Bind(int index, absl::string_view v) {
  int rc = sqlite3_bind_text(s_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqlError(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::BindBlob(int index, absl::string_view v) {
  int rc = sqlite3_bind_blob(s_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqlError(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  int rc = sqlite3_bind_null(s_, index);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqlError(db_, rc, "bind");
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  if (!bind_error_.ok()) return bind_error_;
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(db_, rc, sqlite3_sql(s_));
}

absl::Status Stmt::Exec() {
  while (true) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return absl::OkStatus();
  }
}

absl::Status Stmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  bind_error_ = absl::OkStatus();
  return absl::OkStatus();
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(s_, col); }
double Stmt::Double(int col) const { return sqlite3_column_double(s_, col); }
bool Stmt::IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

std::string Stmt::Text(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = SqlError(raw, rc, absl::StrCat("cannot open database ", path));
    sqlite3_close(raw);
    return s;
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  sqlite3_busy_timeout(raw, 5000);
  if (auto s = db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                        "PRAGMA foreign_keys=ON;");
      !s.ok()) {
    return s;
  }
  return db;
}

Db::~Db() { sqlite3_close_v2(db_); }

absl::Status Db::Exec(absl::string_view sql) {
  std::string copy(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY) return absl::UnavailableError(msg);
    if (primary == SQLITE_CONSTRAINT) return absl::FailedPreconditionError(msg);
    return absl::InternalError(absl::StrCat("database ", path_, ": ", msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<Stmt> Db::Prepare(absl::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) return SqlError(db_, rc, absl::StrCat("prepare: ", sql));
  return Stmt(db_, s);
}

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

}  // namespace dflow
