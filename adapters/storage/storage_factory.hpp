#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::adapters::storage {

struct StorageUrl {
    enum class Kind { kSqlite, kMysql } kind = Kind::kSqlite;
    std::string sqlite_path;  // ":memory:" or a path
    std::string host;
    int port = 3306;
    std::string user;
    std::string password;
    std::string database;
};

// Parses "sqlite:PATH", "sqlite::memory:" or "mysql://USER:PASSWORD@HOST:PORT/DATABASE"
// (user and password percent-decoded). Relative SQLite paths are resolved against base_dir.
core::Expected<StorageUrl> parse_storage_url(std::string_view url, const std::filesystem::path& base_dir);

struct StorageTuning {
    int pool_size = 8;
    int busy_timeout_ms = 5000;
};

std::unique_ptr<core::Storage> make_storage(const StorageUrl& url, const StorageTuning& tuning);

}  // namespace leadhatch::adapters::storage
