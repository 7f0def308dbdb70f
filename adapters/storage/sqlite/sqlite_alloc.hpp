#pragma once

#include <cstdint>

struct sqlite3_mem_methods;

namespace leadhatch::adapters::storage {

// SQLite's memory allocator in this process (SQLITE_CONFIG_MALLOC, installed by
// configure_sqlite_library). Debian builds SQLite without lookaside memory, so every statement
// step takes its cursors, records and bound values from malloc and frees them at reset: about 65
// blocks per ingested event, of a few sizes, many of them freed in runs longer than glibc's
// per-thread cache holds (7 a size) or larger than it takes (1 KiB), so half of the frees took
// glibc's slow path. This allocator keeps freed blocks of up to 4 KiB, in power-of-two size
// classes, on per-thread lists (bounded: at most about 0.7 MiB a thread) and hands them out again;
// larger blocks (page cache pages) go straight to malloc. Each block carries its size in a 16-byte
// header (SQLite asks for it), so blocks stay 16-byte aligned.
const sqlite3_mem_methods& sqlite_block_allocator();

// Counts since start, for tests: allocations served from a per-thread list, and from malloc.
struct SqliteAllocCounts {
    std::uint64_t reused = 0;
    std::uint64_t fresh = 0;
};
SqliteAllocCounts sqlite_alloc_counts();

}  // namespace leadhatch::adapters::storage
