// The WAL-gathering VFS (adapters/storage/sqlite/wal_vfs.hpp): fewer writes reach the OS, and
// nothing a reader, a rollback, a checkpoint or a crash can observe differs from SQLite's own VFS.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "adapters/storage/sqlite/wal_vfs.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch {
namespace {

using adapters::storage::wal_buffering_vfs;
using adapters::storage::wal_write_counts;

class Conn {
public:
    Conn(const std::string& path, const char* vfs) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK) {
            ADD_FAILURE() << "open " << path << ": " << sqlite3_errmsg(db_);
        }
        sqlite3_busy_timeout(db_, 5000);
    }
    ~Conn() { sqlite3_close_v2(db_); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    void exec(const std::string& sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << (err ? err : "?");
        }
        sqlite3_free(err);
    }
    std::string text(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        std::string out;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
            return out;
        }
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        return out;
    }

private:
    sqlite3* db_ = nullptr;
};

// A writer set up as SqliteStorage sets its own: WAL, synchronous=FULL, this VFS.
void writer_pragmas(Conn& c, int cache_pages = 2000) {
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("PRAGMA synchronous=FULL");
    c.exec("PRAGMA cache_size=" + std::to_string(cache_pages));
}

// n rows of `size` bytes each whose content depends on (id, tag): a wrong page shows up as a
// wrong sum.
std::string insert_rows(int from, int n, int size, int tag) {
    return "WITH RECURSIVE r(i) AS (SELECT " + std::to_string(from) + " UNION ALL SELECT i + 1 FROM r WHERE i < " +
           std::to_string(from + n - 1) + ") INSERT INTO t (id, tag, body) SELECT i, " + std::to_string(tag) +
           ", printf('%0" + std::to_string(size) + "d', i * 7919 + " + std::to_string(tag) + ") FROM r";
}

// First in this file, so nothing has initialized SQLite before: registering the VFS must not
// initialize the library before its options are set (allocation statistics off: they would put a
// global mutex around every allocation of every connection).
TEST(SqliteLibrary, RegisteringTheVfsKeepsAllocationStatisticsOff) {
    testing::TempDir dir;
    ASSERT_NE(wal_buffering_vfs(), nullptr);
    Conn w((dir.path() / "stats.db").string(), wal_buffering_vfs());
    w.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)");
    w.exec("INSERT INTO t (body) VALUES (printf('%05000d', 1))");
    EXPECT_EQ(w.text("SELECT length(body) FROM t"), "5000");
    EXPECT_EQ(sqlite3_memory_used(), 0) << "SQLite counts allocations: it was initialized before it was configured";
}

class WalVfs : public ::testing::Test {
protected:
    void SetUp() override { path_ = (dir_.path() / "wal.db").string(); }
    testing::TempDir dir_;
    std::string path_;
};

TEST_F(WalVfs, GathersACommitsPagesIntoFewWritesThatReadersSee) {
    Conn w(path_, wal_buffering_vfs());
    writer_pragmas(w);
    w.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, tag INTEGER, body TEXT)");
    Conn r(path_, nullptr);  // SQLite's own VFS, as another process would read it

    const auto before = wal_write_counts();
    w.exec("BEGIN IMMEDIATE");
    w.exec(insert_rows(1, 300, 900, 1));  // ~70 pages: ~140 log writes by SQLite's own count
    w.exec("COMMIT");
    const auto after = wal_write_counts();
    const auto requested = after.requested - before.requested;
    const auto issued = after.issued - before.issued;
    EXPECT_GT(requested, 100U);
    EXPECT_LE(issued, 4U) << "requested " << requested;

    EXPECT_EQ(r.text("SELECT count(*) || ':' || sum(length(body)) || ':' || sum(CAST(body AS INTEGER)) FROM t"),
              w.text("SELECT count(*) || ':' || sum(length(body)) || ':' || sum(CAST(body AS INTEGER)) FROM t"));
    EXPECT_EQ(r.text("SELECT count(*) FROM t"), "300");
    EXPECT_EQ(r.text("PRAGMA integrity_check"), "ok");
}

TEST_F(WalVfs, SpilledTransactionsReadTheirOwnFramesAndRollBackCleanly) {
    Conn w(path_, wal_buffering_vfs());
    writer_pragmas(w, 20);  // 20 pages of cache: a big transaction spills frames before COMMIT
    w.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, tag INTEGER, body TEXT)");
    w.exec(insert_rows(1, 100, 500, 1));
    Conn r(path_, nullptr);
    const std::string sum = "SELECT count(*) || ':' || sum(tag) || ':' || sum(CAST(body AS INTEGER)) FROM t";
    const std::string committed = r.text(sum);

    // Larger than the buffer's 4 MiB cap, rewrites early pages (read back from the log), then
    // rolled back: neither side may see any of it.
    w.exec("BEGIN IMMEDIATE");
    w.exec(insert_rows(1000, 3000, 2000, 2));
    w.exec("UPDATE t SET tag = 3, body = printf('%0500d', id * 3) WHERE id <= 100");
    EXPECT_EQ(w.text("SELECT count(*) FROM t"), "3100");
    w.exec("ROLLBACK");
    EXPECT_EQ(w.text(sum), committed);
    EXPECT_EQ(r.text(sum), committed);

    // The same, committed.
    w.exec("BEGIN IMMEDIATE");
    w.exec(insert_rows(1000, 3000, 2000, 2));
    w.exec("UPDATE t SET tag = 3, body = printf('%0500d', id * 3) WHERE id <= 100");
    w.exec("COMMIT");
    EXPECT_EQ(r.text(sum), w.text(sum));
    EXPECT_EQ(r.text("SELECT count(*) || ':' || sum(tag) FROM t"), "3100:6300");
    EXPECT_EQ(r.text("SELECT sum(CAST(body AS INTEGER)) FROM t WHERE id <= 100"), std::to_string(3 * 5050));
    EXPECT_EQ(r.text("PRAGMA integrity_check"), "ok");
}

TEST_F(WalVfs, CheckpointsAndLogRestartsKeepEveryCommit) {
    Conn w(path_, wal_buffering_vfs());
    writer_pragmas(w);
    w.exec("PRAGMA wal_autocheckpoint=8");  // checkpoint and restart the log every few commits
    w.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, tag INTEGER, body TEXT)");
    Conn r(path_, nullptr);
    for (int i = 0; i < 200; ++i) {
        w.exec(insert_rows(1 + i * 5, 5, 700, i));
        if (i % 50 == 49) {
            EXPECT_EQ(r.text("SELECT count(*) FROM t"), std::to_string((i + 1) * 5));
        }
    }
    w.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    EXPECT_EQ(r.text("SELECT count(*) || ':' || sum(tag) FROM t"), "1000:" + std::to_string(5 * 199 * 200 / 2));
    EXPECT_EQ(r.text("PRAGMA integrity_check"), "ok");
}

TEST_F(WalVfs, ACrashKeepsWhatCommittedAndNothingElse) {
    {
        Conn w(path_, wal_buffering_vfs());
        writer_pragmas(w);
        w.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, tag INTEGER, body TEXT)");
    }
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Commits 400 rows, then dies mid-transaction with more in the buffer and in the log.
        auto* w = new Conn(path_, wal_buffering_vfs());
        writer_pragmas(*w, 50);
        w->exec("PRAGMA wal_autocheckpoint=0");
        w->exec(insert_rows(1, 400, 600, 1));
        w->exec("BEGIN IMMEDIATE");
        w->exec(insert_rows(1000, 2000, 600, 2));
        w->exec("UPDATE t SET tag = 9 WHERE id <= 400");
        _exit(::testing::Test::HasFailure() ? 1 : 0);  // no close, no rollback, no flush
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);

    Conn r(path_, nullptr);
    EXPECT_EQ(r.text("SELECT count(*) || ':' || sum(tag) || ':' || sum(CAST(body AS INTEGER)) FROM t"),
              "400:400:" + std::to_string(7919LL * 400 * 401 / 2 + 400));
    EXPECT_EQ(r.text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace leadhatch
