// A thin RAII wrapper over SQLite: one connection, prepared statements with
// typed binds, and transactions. Errors become absl::Status with SQLite's message.
//
// A Db is not thread-safe; callers serialize access (the controller's Store
// holds one mutex around its connection).
#ifndef DFLOW_COMMON_SQLITE_H_
#define DFLOW_COMMON_SQLITE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dflow {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

class Stmt {
 public:
  Stmt(Stmt&&) noexcept;
  Stmt& operator=(Stmt&&) noexcept;
  ~Stmt();

  // Binds positional parameters 1..n.
  Stmt& Bind(int index, int64_t v);
  Stmt& Bind(int index, int v) { return Bind(index, static_cast<int64_t>(v)); }
  Stmt& Bind(int index, double v);
  Stmt& Bind(int index, absl::string_view v);
  Stmt& Bind(int index, const char* v) { return Bind(index, absl::string_view(v)); }
  Stmt& Bind(int index, const std::string& v) { return Bind(index, absl::string_view(v)); }
  Stmt& BindBlob(int index, absl::string_view v);
  Stmt& BindNull(int index);

  // Advances; true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs to completion, ignoring rows.
  absl::Status Exec();
  absl::Status Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
  absl::Status bind_error_;
};

class Db {
 public:
  // Opens (creating if needed) with WAL, synchronous=FULL, foreign keys on and a
  // busy timeout.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();

  absl::Status Exec(absl::string_view sql);  // may hold several statements
  absl::StatusOr<Stmt> Prepare(absl::string_view sql);
  int64_t LastInsertId() const;
  int Changes() const;
  const std::string& path() const { return path_; }

  // Runs fn inside BEGIN IMMEDIATE … COMMIT; rolls back when fn fails.
  template <typename Fn>
  absl::Status Transaction(Fn&& fn) {
    if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    absl::Status s = fn();
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    if (auto c = Exec("COMMIT"); !c.ok()) {
      (void)Exec("ROLLBACK");
      return c;
    }
    return absl::OkStatus();
  }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace dflow

#endif  // DFLOW_COMMON_SQLITE_H_
