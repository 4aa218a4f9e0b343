#include "server/sqlite.h"

#include "absl/strings/str_cat.h"

namespace videogen::server::sqlite {

absl::Status Error(sqlite3* db, int code, absl::string_view what) {
  const std::string message =
      absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code));
  switch (code & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  const int code = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  sqlite3_free(error);
  return code == SQLITE_OK ? absl::OkStatus() : Error(db, code, sql);
}

absl::StatusOr<Database> Open(const std::string& path, absl::string_view name, int version,
                              const std::vector<const char*>& schema) {
  sqlite3* raw = nullptr;
  const int code = sqlite3_open_v2(
      path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  Database db(raw);  // Closes it on every error path.
  if (code != SQLITE_OK) return Error(raw, code, absl::StrCat(name, ": opening ", path));
  sqlite3_busy_timeout(raw, 5000);
  int64_t found = 0;
  {
    // Scoped: an unfinished statement would hold a read transaction open.
    Statement user_version(raw, "PRAGMA user_version");
    if (absl::Status s = user_version.Prepared(); !s.ok()) return s;
    absl::StatusOr<bool> row = user_version.Step();
    if (!row.ok()) return row.status();
    found = user_version.Int(0);
  }
  if (found > version) {
    return absl::FailedPreconditionError(absl::StrCat(name, " ", path, " has schema version ",
                                                      found, "; this build reads up to ",
                                                      version));
  }
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (absl::Status s = Exec(raw, sql); !s.ok()) return s;
  }
  if (found == 0) {
    const std::string set_version = absl::StrCat("PRAGMA user_version = ", version);
    absl::Status created = Transaction(raw, [&] {
      // Another process may have created the schema meanwhile.
      Statement again(raw, "PRAGMA user_version");
      if (absl::Status s = again.Prepared(); !s.ok()) return s;
      absl::StatusOr<bool> row = again.Step();
      if (!row.ok()) return row.status();
      if (again.Int(0) != 0) return absl::OkStatus();
      for (const char* sql : schema) {
        if (absl::Status s = Exec(raw, sql); !s.ok()) return s;
      }
      return Exec(raw, set_version.c_str());
    });
    if (!created.ok()) return created;
  }
  return db;
}

Statement::Statement(sqlite3* db, absl::string_view sql) : db_(db) {
  status_code_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
}

absl::Status Statement::Prepared() const {
  return status_code_ == SQLITE_OK ? absl::OkStatus() : Error(db_, status_code_, "prepare");
}

Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Statement& Statement::Bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int i, const std::string& v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  const int code = sqlite3_step(stmt_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return Error(db_, code, "step");
}

std::string Statement::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  return std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, column));
}

}  // namespace videogen::server::sqlite
