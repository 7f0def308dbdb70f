#pragma once

// The database an end-to-end test runs the real binary on: SQLite, or MariaDB when
// LEADHATCH_TEST_MYSQL_URL names one (a private database per test).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/test_db.hpp"

namespace leadhatch::testing {

enum class Backend { kSqlite, kMysql };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
    return info.param == Backend::kSqlite ? "sqlite" : "mysql";
}

// The storage URL for `backend`: `sqlite_file`, or a fresh database on the test MariaDB, kept in
// `mysql`. Without LEADHATCH_TEST_MYSQL_URL the test is skipped (failed when CI=true) and the
// answer is nullopt: the caller's SetUp returns at once.
inline std::optional<std::string> e2e_storage_url(Backend backend, const std::filesystem::path& sqlite_file,
                                                  std::unique_ptr<MysqlTestDatabase>& mysql) {
    if (backend == Backend::kSqlite) return "sqlite:" + sqlite_file.string();
    auto url = mysql_url();
    if (!url) {
        // FAIL and GTEST_SKIP return from a void function: they mark the test, and its body is not run.
        if (in_ci()) {
            [] { FAIL() << "CI=true but LEADHATCH_TEST_MYSQL_URL is not set"; }();
        } else {
            [] { GTEST_SKIP() << "LEADHATCH_TEST_MYSQL_URL not set"; }();
        }
        return std::nullopt;
    }
    mysql = std::make_unique<MysqlTestDatabase>(*url);
    return mysql->url();
}

}  // namespace leadhatch::testing
