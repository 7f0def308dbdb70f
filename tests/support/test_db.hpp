#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "adapters/storage/storage_factory.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::testing {

// LEADHATCH_TEST_MYSQL_URL, or nullopt. Under CI=true a missing URL fails the calling test
// (GTEST_FAIL via the returned reason); elsewhere the MySQL tests are skipped.
std::optional<std::string> mysql_url();
bool in_ci();

// The repository root and the leadhatch binary: from the environment ctest sets, else from the
// paths compiled into the test.
std::string source_dir();
std::string leadhatch_binary();

// A private, empty MySQL database for one test: created on construction, dropped on destruction.
class MysqlTestDatabase {
public:
    explicit MysqlTestDatabase(const std::string& base_url);
    ~MysqlTestDatabase();
    MysqlTestDatabase(const MysqlTestDatabase&) = delete;
    MysqlTestDatabase& operator=(const MysqlTestDatabase&) = delete;

    const std::string& url() const { return url_; }
    const adapters::storage::StorageUrl& parsed() const { return parsed_; }
    // Runs one statement as the test user on this database (for assertions on raw rows).
    void execute(const std::string& sql);
    // Returns the first column of the first row, or "" (for assertions).
    std::string query_one(const std::string& sql);
    // Every value of every row of every table, one per line (for "is it gone" checks).
    std::string dump_all_text();

    // One connection held open, for tests that need session state (locks, open transactions).
    class Session {
    public:
        explicit Session(std::shared_ptr<void> connection) : connection_(std::move(connection)) {}
        void execute(const std::string& sql);

    private:
        std::shared_ptr<void> connection_;
    };
    Session session();

private:
    adapters::storage::StorageUrl parsed_;
    std::string name_;
    std::string url_;
};

// A temporary directory removed on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace leadhatch::testing
