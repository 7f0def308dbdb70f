#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace leadhatch::adapters::storage {

// Sets SQLite's process-wide options, once, before anything initializes the library: every entry
// point that can initialize it (opening a connection, registering a VFS) calls this first.
void configure_sqlite_library();

// Throws core::StorageError for a failed sqlite3 call, with the kind derived from the result code.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view what);

// A prepared statement. reset() on destruction of a Binding scope keeps it reusable.
class SqliteStmt {
public:
    SqliteStmt(sqlite3* db, std::string_view sql);
    ~SqliteStmt();
    SqliteStmt(const SqliteStmt&) = delete;
    SqliteStmt& operator=(const SqliteStmt&) = delete;

    SqliteStmt& bind(int idx, std::int64_t v);
    SqliteStmt& bind(int idx, int v) { return bind(idx, static_cast<std::int64_t>(v)); }
    SqliteStmt& bind(int idx, bool v) { return bind(idx, static_cast<std::int64_t>(v ? 1 : 0)); }
    // Text is bound without a copy: it must stay where it is until the statement has run (run(),
    // or step() until done and reset()). A temporary string is copied (the && overload).
    SqliteStmt& bind(int idx, std::string_view v);
    SqliteStmt& bind(int idx, const std::string& v) { return bind(idx, std::string_view{v}); }
    SqliteStmt& bind(int idx, std::string&& v);
    SqliteStmt& bind(int idx, const char* v) { return bind(idx, std::string_view{v}); }
    SqliteStmt& bind_null(int idx);
    template <class T>
    SqliteStmt& bind(int idx, const std::optional<T>& v) {
        return v ? bind(idx, *v) : bind_null(idx);
    }

    bool step();      // true: a row is ready; false: done
    void run();       // step to completion, then reset
    void reset();     // reset and clear bindings

    std::int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
    double f64(int col) const { return sqlite3_column_double(stmt_, col); }
    SqliteStmt& bind(int idx, double v);
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::optional<std::int64_t> opt_i64(int col) const {
        return is_null(col) ? std::nullopt : std::optional<std::int64_t>(i64(col));
    }
    std::string text(int col) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

// One connection with a cache of prepared statements.
class SqliteDb {
public:
    // vfs: a registered VFS name, or nullptr for the default one.
    SqliteDb(const std::string& path, int flags, int busy_timeout_ms, const char* vfs = nullptr);
    ~SqliteDb();
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    void exec(std::string_view sql);
    SqliteStmt& stmt(const std::string& sql);  // prepared once, reset before it is handed out
    // The same for SQL written as a string literal: cached by the literal's address, so the hot
    // path neither copies, hashes nor compares the text.
    template <std::size_t N>
    SqliteStmt& stmt(const char (&sql)[N]) {
        return literal_stmt(sql, N - 1);
    }
    bool cached(const std::string& sql) const { return cache_.count(sql) != 0; }
    std::size_t cache_size() const { return cache_.size(); }
    sqlite3* handle() const { return db_; }
    std::int64_t changes() const { return sqlite3_changes64(db_); }

private:
    SqliteStmt& literal_stmt(const char* sql, std::size_t size);

    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, std::unique_ptr<SqliteStmt>> cache_;
    std::unordered_map<const char*, std::unique_ptr<SqliteStmt>> literals_;
};

}  // namespace leadhatch::adapters::storage
