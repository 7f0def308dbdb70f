#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/types.hpp"

namespace leadhatch::adapters::storage {

using SqlParam = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

enum class Dialect { kSqlite, kMysql };

// Rows of one table are written in multi-row INSERTs: a statement per row paid a statement's
// fixed cost (on SQLite also the AUTOINCREMENT sequence update) per row. On SQLite each of the at
// most kRowsPerInsert statement shapes is prepared once per connection. A server parses every
// statement anew, so there the chunks are as large as the packet comfortably allows.
inline constexpr std::size_t kRowsPerInsert = 16;
inline constexpr std::size_t kServerRowsPerInsert = 500;
constexpr std::size_t rows_per_insert(Dialect d) { return d == Dialect::kSqlite ? kRowsPerInsert : kServerRowsPerInsert; }

// Calls fn(first, count) for consecutive chunks of `total` rows, each at most `chunk`.
template <class Fn>
void for_each_insert_chunk(std::size_t total, Fn&& fn, std::size_t chunk = kRowsPerInsert) {
    for (std::size_t first = 0; first < total; first += chunk) {
        fn(first, std::min(chunk, total - first));
    }
}

// SQL text with '?' placeholders and their values, built by dialect-neutral query code and run
// by a backend (SQLite binds them; MySQL escapes them into the text).
class SqlQuery {
public:
    SqlQuery() = default;
    explicit SqlQuery(std::string_view text) : text_(text) {}

    SqlQuery& sql(std::string_view s) {
        text_ += s;
        return *this;
    }
    SqlQuery& param(std::int64_t v) { return add(SqlParam(v)); }
    SqlQuery& param(int v) { return add(SqlParam(static_cast<std::int64_t>(v))); }
    SqlQuery& param(bool v) { return add(SqlParam(static_cast<std::int64_t>(v ? 1 : 0))); }
    SqlQuery& param(double v) { return add(SqlParam(v)); }
    SqlQuery& param(std::string_view v) { return add(SqlParam(std::string(v))); }
    SqlQuery& param(const std::string& v) { return add(SqlParam(v)); }
    SqlQuery& param(const char* v) { return add(SqlParam(std::string(v))); }
    SqlQuery& param(core::Timestamp t) { return param(core::to_epoch_ms(t)); }
    SqlQuery& null() { return add(SqlParam(nullptr)); }
    SqlQuery& value(SqlParam v) { return add(std::move(v)); }
    template <class T>
    SqlQuery& param(const std::optional<T>& v) {
        return v ? param(*v) : null();
    }

    const std::string& text() const { return text_; }
    const std::vector<SqlParam>& params() const { return params_; }
    bool empty() const { return text_.empty(); }

private:
    SqlQuery& add(SqlParam p) {
        text_ += '?';
        params_.push_back(std::move(p));
        return *this;
    }
    std::string text_;
    std::vector<SqlParam> params_;
};

// One result row; columns are 0-based.
class SqlRow {
public:
    virtual ~SqlRow() = default;
    virtual bool is_null(int col) const = 0;
    virtual std::int64_t i64(int col) const = 0;
    virtual double f64(int col) const = 0;
    virtual std::string text(int col) const = 0;

    std::optional<std::int64_t> opt_i64(int col) const {
        return is_null(col) ? std::nullopt : std::optional<std::int64_t>(i64(col));
    }
    core::Timestamp time(int col) const { return core::from_epoch_ms(i64(col)); }
    std::optional<core::Timestamp> opt_time(int col) const {
        return is_null(col) ? std::nullopt : std::optional<core::Timestamp>(time(col));
    }
};

// Runs queries on one connection (inside whatever transaction it has open).
class SqlExec {
public:
    virtual ~SqlExec() = default;
    virtual Dialect dialect() const = 0;
    virtual void run(const SqlQuery& q) = 0;
    virtual void query(const SqlQuery& q, const std::function<void(const SqlRow&)>& row) = 0;
    virtual std::int64_t changes() = 0;  // rows changed by the last run()

    std::optional<std::int64_t> scalar_i64(const SqlQuery& q) {
        std::optional<std::int64_t> v;
        query(q, [&](const SqlRow& r) {
            if (!v && !r.is_null(0)) v = r.i64(0);
        });
        return v;
    }
};

}  // namespace leadhatch::adapters::storage
