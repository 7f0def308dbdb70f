// SQLite's allocator (adapters/storage/sqlite/sqlite_alloc.hpp): sizes and alignment SQLite relies
// on, blocks reused per thread and bounded, contents kept by realloc, and SQLite really using it.
#include "adapters/storage/sqlite/sqlite_alloc.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "adapters/storage/sqlite/sqlite_db.hpp"

namespace leadhatch {
namespace {

using adapters::storage::sqlite_alloc_counts;
using adapters::storage::sqlite_block_allocator;

const sqlite3_mem_methods& m = sqlite_block_allocator();

bool aligned16(void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

TEST(SqliteAlloc, SizesAreRoundedUpAndReportedAsSQLiteExpects) {
    for (const int n : {1, 8, 63, 64, 65, 100, 1000, 1025, 4095, 4096, 4097, 5000, 100000}) {
        void* p = m.xMalloc(n);
        ASSERT_NE(p, nullptr) << n;
        EXPECT_TRUE(aligned16(p)) << n;
        EXPECT_GE(m.xSize(p), n);
        EXPECT_EQ(m.xSize(p), m.xRoundup(n)) << n;
        std::memset(p, 0xab, static_cast<std::size_t>(m.xSize(p)));  // every reported byte is usable
        m.xFree(p);
    }
    EXPECT_EQ(m.xRoundup(1), 64);
    EXPECT_EQ(m.xRoundup(65), 128);
    EXPECT_EQ(m.xRoundup(4096), 4096);
    EXPECT_EQ(m.xRoundup(4097), 4112);
    EXPECT_EQ(m.xMalloc(0), nullptr);
    m.xFree(nullptr);
    EXPECT_EQ(m.xSize(nullptr), 0);
}

TEST(SqliteAlloc, AFreedBlockIsHandedOutAgainForItsSizeClass) {
    void* p = m.xMalloc(100);
    m.xFree(p);
    const auto before = sqlite_alloc_counts();
    void* q = m.xMalloc(120);  // same class (128)
    EXPECT_EQ(q, p);
    EXPECT_EQ(sqlite_alloc_counts().reused - before.reused, 1U);
    m.xFree(q);
}

TEST(SqliteAlloc, EachThreadKeepsABoundedNumberOfBlocks) {
    std::thread([] {
        std::vector<void*> blocks;
        for (int i = 0; i < 1000; ++i) blocks.push_back(m.xMalloc(40));
        for (void* b : blocks) m.xFree(b);
        blocks.clear();
        const auto before = sqlite_alloc_counts();
        for (int i = 0; i < 1000; ++i) blocks.push_back(m.xMalloc(40));
        const auto after = sqlite_alloc_counts();
        EXPECT_EQ(after.reused - before.reused, 256U);
        EXPECT_EQ(after.fresh - before.fresh, 744U);
        for (void* b : blocks) m.xFree(b);
    }).join();  // the thread's lists go back to malloc as it ends
}

TEST(SqliteAlloc, ReallocKeepsTheContents) {
    auto* p = static_cast<unsigned char*>(m.xMalloc(100));
    for (int i = 0; i < 100; ++i) p[i] = static_cast<unsigned char>(i);
    auto* q = static_cast<unsigned char*>(m.xRealloc(p, 3000));
    ASSERT_NE(q, nullptr);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(q[i], i);
    for (int i = 100; i < 3000; ++i) q[i] = static_cast<unsigned char>(i * 7);
    auto* r = static_cast<unsigned char*>(m.xRealloc(q, 10000));
    ASSERT_NE(r, nullptr);
    EXPECT_GE(m.xSize(r), 10000);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(r[i], i);
    for (int i = 100; i < 3000; ++i) ASSERT_EQ(r[i], static_cast<unsigned char>(i * 7));
    auto* s = static_cast<unsigned char*>(m.xRealloc(r, 50));
    ASSERT_NE(s, nullptr);
    EXPECT_GE(m.xSize(s), 50);
    for (int i = 0; i < 50; ++i) ASSERT_EQ(s[i], i);
    m.xFree(s);
}

TEST(SqliteAlloc, BlocksMayBeFreedOnAnotherThread) {
    std::vector<void*> blocks;
    for (int i = 0; i < 300; ++i) blocks.push_back(m.xMalloc(200 + i * 10));
    std::thread([&] {
        for (void* b : blocks) m.xFree(b);
    }).join();
    void* p = m.xMalloc(200);
    EXPECT_NE(p, nullptr);
    m.xFree(p);
}

TEST(SqliteAlloc, SQLiteAllocatesThroughIt) {
    adapters::storage::SqliteDb db(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)");
    const auto before = sqlite_alloc_counts();
    for (int i = 0; i < 50; ++i) {
        db.stmt("INSERT INTO t (body) VALUES (?1)").bind(1, std::string(300, 'x')).run();
    }
    const auto after = sqlite_alloc_counts();
    EXPECT_GT(after.reused + after.fresh, before.reused + before.fresh + 50);
    EXPECT_GT(after.reused - before.reused, 40U) << "statement memory is not being reused";
}

}  // namespace
}  // namespace leadhatch
