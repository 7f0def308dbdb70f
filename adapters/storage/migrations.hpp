#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace leadhatch::adapters::storage {

// One schema step. Both dialects carry the same versions; a test checks that they match.
struct Migration {
    int version;
    const char* name;
    const char* sql;
};

const std::vector<Migration>& sqlite_migrations();
const std::vector<Migration>& mysql_migrations();

// Splits a migration script into statements: on ';' outside quotes, ignoring "--" comments.
std::vector<std::string> split_sql_statements(std::string_view script);

}  // namespace leadhatch::adapters::storage
