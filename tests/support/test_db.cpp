#include "tests/support/test_db.hpp"

#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace leadhatch::testing {
namespace {

std::unique_ptr<sql::Connection> connect(const adapters::storage::StorageUrl& u, const std::string& schema) {
    static sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
    sql::ConnectOptionsMap opts;
    opts["hostName"] = sql::SQLString(u.host);
    opts["port"] = u.port;
    opts["userName"] = sql::SQLString(u.user);
    opts["password"] = sql::SQLString(u.password);
    if (!schema.empty()) opts["schema"] = sql::SQLString(schema);
    opts["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    opts["OPT_CONNECT_TIMEOUT"] = 5;
    return std::unique_ptr<sql::Connection>(driver->connect(opts));
}

// Every test linked with this library, and every service it starts (they inherit the
// environment), reads each answer the SQLite writer's cache gives again and fails on any
// difference (SqliteStorage::Tx). Set before main, so before any storage is made.
const bool kCheckWriteCache = [] { return ::setenv("LEADHATCH_CHECK_WRITE_CACHE", "1", 0) == 0; }();

}  // namespace

bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) != "" && std::string(ci) != "false" && std::string(ci) != "0";
}

std::string source_dir() {
    if (const char* s = std::getenv("LEADHATCH_SOURCE_DIR"); s && *s) return s;
#ifdef LEADHATCH_SOURCE_DIR_DEFAULT
    return LEADHATCH_SOURCE_DIR_DEFAULT;
#else
    return ".";
#endif
}

std::string leadhatch_binary() {
    if (const char* s = std::getenv("LEADHATCH_BINARY"); s && *s) return s;
#ifdef LEADHATCH_BINARY_DEFAULT
    return LEADHATCH_BINARY_DEFAULT;
#else
    return "leadhatch";
#endif
}

std::optional<std::string> mysql_url() {
    const char* url = std::getenv("LEADHATCH_TEST_MYSQL_URL");
    if (url == nullptr || *url == '\0') return std::nullopt;
    return std::string(url);
}

MysqlTestDatabase::MysqlTestDatabase(const std::string& base_url) {
    auto parsed = adapters::storage::parse_storage_url(base_url, ".");
    if (!parsed) throw std::runtime_error("bad LEADHATCH_TEST_MYSQL_URL: " + parsed.error().message);
    parsed_ = *parsed;
    static std::atomic<int> counter{0};
    std::random_device rd;
    name_ = parsed_.database + "_t" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(rd() % 100000);
    auto c = connect(parsed_, "");
    std::unique_ptr<sql::Statement> st(c->createStatement());
    st->execute("CREATE DATABASE `" + name_ + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
    parsed_.database = name_;
    url_ = "mysql://" + parsed_.user + ":" + parsed_.password + "@" + parsed_.host + ":" +
           std::to_string(parsed_.port) + "/" + name_;
}

MysqlTestDatabase::~MysqlTestDatabase() {
    try {
        auto c = connect(parsed_, "");
        std::unique_ptr<sql::Statement> st(c->createStatement());
        st->execute("DROP DATABASE IF EXISTS `" + name_ + "`");
    } catch (...) {
    }
}

void MysqlTestDatabase::execute(const std::string& sql) {
    auto c = connect(parsed_, name_);
    std::unique_ptr<sql::Statement> st(c->createStatement());
    st->execute(sql);
}

MysqlTestDatabase::Session MysqlTestDatabase::session() {
    return Session(std::shared_ptr<sql::Connection>(connect(parsed_, name_)));
}

void MysqlTestDatabase::Session::execute(const std::string& sql) {
    std::unique_ptr<sql::Statement> st(static_cast<sql::Connection*>(connection_.get())->createStatement());
    st->execute(sql);
}

std::string MysqlTestDatabase::query_one(const std::string& sql) {
    auto c = connect(parsed_, name_);
    std::unique_ptr<sql::Statement> st(c->createStatement());
    std::unique_ptr<sql::ResultSet> rs(st->executeQuery(sql));
    if (!rs->next()) return {};
    return rs->getString(1).asStdString();
}

std::string MysqlTestDatabase::dump_all_text() {
    auto c = connect(parsed_, name_);
    std::unique_ptr<sql::Statement> st(c->createStatement());
    std::vector<std::string> tables;
    {
        std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SHOW TABLES"));
        while (rs->next()) tables.push_back(rs->getString(1).asStdString());
    }
    std::string out;
    for (const auto& t : tables) {
        std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SELECT * FROM `" + t + "`"));
        const auto cols = rs->getMetaData()->getColumnCount();
        while (rs->next()) {
            for (unsigned i = 1; i <= cols; ++i) {
                if (!rs->isNull(i)) out += rs->getString(i).asStdString() + "\n";
            }
        }
    }
    return out;
}

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "leadhatch-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace leadhatch::testing
