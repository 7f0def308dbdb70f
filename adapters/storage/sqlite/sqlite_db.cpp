#include "adapters/storage/sqlite/sqlite_db.hpp"

#include <string>

#include "adapters/storage/sqlite/sqlite_alloc.hpp"
#include "core/error.hpp"

namespace leadhatch::adapters::storage {

using core::StorageError;
using core::StorageErrorKind;

void throw_sqlite(sqlite3* db, int rc, std::string_view what) {
    StorageErrorKind kind = StorageErrorKind::kInternal;
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
            kind = StorageErrorKind::kConflict;
            break;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PROTOCOL:
            kind = StorageErrorKind::kUnavailable;
            break;
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
        case SQLITE_TOOBIG:
            kind = StorageErrorKind::kInvalid;
            break;
        default:
            break;
    }
    std::string msg{what};
    msg += ": ";
    msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw StorageError(kind, msg);
}

SqliteStmt::SqliteStmt(sqlite3* db, std::string_view sql) : db_(db) {
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &stmt_, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(db, rc, "prepare");
}

SqliteStmt::~SqliteStmt() { sqlite3_finalize(stmt_); }

SqliteStmt& SqliteStmt::bind(int idx, std::int64_t v) {
    const int rc = sqlite3_bind_int64(stmt_, idx, v);
    if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
    return *this;
}

SqliteStmt& SqliteStmt::bind(int idx, double v) {
    const int rc = sqlite3_bind_double(stmt_, idx, v);
    if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
    return *this;
}

SqliteStmt& SqliteStmt::bind(int idx, std::string_view v) {
    // SQLITE_STATIC: SQLite reads the caller's bytes in place instead of copying them into a block
    // of its own at every bind. reset() clears the bindings, and SqliteDb::stmt() resets a cached
    // statement before handing it out again, so no later use sees the pointer.
    const int rc = sqlite3_bind_text64(stmt_, idx, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
    if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
    return *this;
}

SqliteStmt& SqliteStmt::bind(int idx, std::string&& v) {
    const int rc = sqlite3_bind_text64(stmt_, idx, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
    return *this;
}

SqliteStmt& SqliteStmt::bind_null(int idx) {
    const int rc = sqlite3_bind_null(stmt_, idx);
    if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
    return *this;
}

bool SqliteStmt::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(stmt_);
    throw_sqlite(db_, rc, "step");
}

void SqliteStmt::run() {
    while (step()) {
    }
    reset();
}

void SqliteStmt::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::string SqliteStmt::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string{};
}

// SQLite keeps allocation statistics under a global mutex by default: every allocation of every
// connection would take it. Nothing here reads those statistics.
void configure_sqlite_library() {
    static const bool done = [] {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // SQLITE_MISUSE if already initialized: harmless
        // Likewise: SQLite then keeps the allocator it started with, for every block. It copies
        // the methods.
        sqlite3_mem_methods methods = sqlite_block_allocator();
        sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
        return sqlite3_initialize() == SQLITE_OK;
    }();
    (void)done;
}

SqliteDb::SqliteDb(const std::string& path, int flags, int busy_timeout_ms, const char* vfs) {
    configure_sqlite_library();
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw core::StorageError(core::StorageErrorKind::kUnavailable, "open sqlite database: " + msg);
    }
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    sqlite3_extended_result_codes(db_, 1);
}

SqliteDb::~SqliteDb() {
    cache_.clear();
    literals_.clear();
    sqlite3_close_v2(db_);
}

void SqliteDb::exec(std::string_view sql) {
    std::string s{sql};
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw_sqlite(nullptr, rc, "exec: " + msg);
    }
}

SqliteStmt& SqliteDb::stmt(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        it = cache_.emplace(sql, std::make_unique<SqliteStmt>(db_, sql)).first;
    } else {
        it->second->reset();
    }
    return *it->second;
}

SqliteStmt& SqliteDb::literal_stmt(const char* sql, std::size_t size) {
    auto it = literals_.find(sql);
    if (it == literals_.end()) {
        it = literals_.emplace(sql, std::make_unique<SqliteStmt>(db_, std::string_view(sql, size))).first;
    } else {
        it->second->reset();
    }
    return *it->second;
}

}  // namespace leadhatch::adapters::storage
