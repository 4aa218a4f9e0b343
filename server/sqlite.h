// Small helpers over SQLite shared by the server's durable stores (the job store and the schedule
// registry): opening a database in WAL mode with a versioned schema, prepared statements,
// transactions, and SQLite result codes mapped to absl::Status.
#ifndef VIDEOGEN_SERVER_SQLITE_H_
#define VIDEOGEN_SERVER_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::server::sqlite {

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Database = std::unique_ptr<sqlite3, Closer>;

// `what`: SQLite's message for `code` (of `db` if set), mapped to a status code: UNAVAILABLE for
// busy/locked, DATA_LOSS for corrupt/not a database, NOT_FOUND for cannot open,
// RESOURCE_EXHAUSTED for a full disk, INTERNAL otherwise.
absl::Status Error(sqlite3* db, int code, absl::string_view what);

// Opens (creating) the database at `path`: WAL journal, synchronous=FULL, a 5 s busy timeout so
// that several processes may write. A new database gets `schema` (SQL statements) and
// user_version = `version` in one transaction. `name` (e.g. "job store") prefixes errors.
// FAILED_PRECONDITION for a database of a newer schema; Error()'s codes otherwise.
absl::StatusOr<Database> Open(const std::string& path, absl::string_view name, int version,
                              const std::vector<const char*>& schema);

absl::Status Exec(sqlite3* db, const char* sql);

// Runs `body` in one write transaction (BEGIN IMMEDIATE), committed if it returns OK and rolled
// back otherwise.
template <typename Body>
absl::Status Transaction(sqlite3* db, Body body) {
  if (absl::Status s = Exec(db, "BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Status status = body();
  if (status.ok()) status = Exec(db, "COMMIT");
  if (!status.ok()) Exec(db, "ROLLBACK").IgnoreError();
  return status;
}

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, absl::string_view sql);
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  absl::Status Prepared() const;
  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, const std::string& v);
  Statement& BindBlob(int i, const std::string& v);
  Statement& BindNull(int i);
  // One step: true with a row, false when done.
  absl::StatusOr<bool> Step();
  absl::Status Run() { return Step().status(); }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Blob(int column) const;
  std::string Text(int column) const { return Blob(column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int status_code_;
};

}  // namespace videogen::server::sqlite

#endif  // VIDEOGEN_SERVER_SQLITE_H_
