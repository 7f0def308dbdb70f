#pragma once

#include <cstdint>

namespace leadhatch::adapters::storage {

// A VFS over SQLite's default one that gathers a transaction's writes to the write-ahead log and
// hands them to the OS as one write when SQLite syncs the log, instead of two writes (frame header
// and page) per page. Every other file, and every other call, goes straight to the default VFS.
//
// Safe because the buffer only ever holds the newest contiguous run of log writes and is written
// out before anything could depend on it:
// - before the log is synced: a commit under synchronous=FULL syncs before it publishes its frames
//   to readers (the wal-index header), so no reader sees a frame that is still in the buffer;
// - before any read, truncate, size query, file control or close of the log, and before a write
//   that does not append to the buffer (a page rewritten in place, the header after a restart);
// - when it would grow past 4 MiB.
// A crash loses only what was never synced, which SQLite never reported as committed.
// Requires synchronous=FULL on every connection that writes (configure() in sqlite_storage.cpp).
//
// Returns the VFS's name for sqlite3_open_v2, registering it on first use (not as the default).
const char* wal_buffering_vfs();

// Counts since start, for tests: log writes SQLite issued, and writes that reached
// the OS.
struct WalWriteCounts {
    std::uint64_t requested = 0;
    std::uint64_t issued = 0;
};
WalWriteCounts wal_write_counts();

}  // namespace leadhatch::adapters::storage
