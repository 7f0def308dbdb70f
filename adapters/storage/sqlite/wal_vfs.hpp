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

// While one of these is alive on a thread, a commit made on that thread through this VFS writes its
// log frames out (readers see them at once) but leaves out the fsync that synchronous=FULL does at
// commit; skipped() tells whether it did. The commit then survives a crash of the process, not yet
// a power cut: the caller owes it a sync of the log file (LogSyncer) before anything depends on it.
// Two syncs are never left out, because they guard against corruption, not only loss: the first
// sync of a log file this connection opened (it also makes a new file's directory entry durable)
// and the sync after the log's header is rewritten (a restarted log, SQLite ticket ff5be73dee).
// A checkpoint must not run inside the scope: it may only copy frames that are durable.
class DeferredLogSync {
public:
    DeferredLogSync();
    ~DeferredLogSync();
    DeferredLogSync(const DeferredLogSync&) = delete;
    DeferredLogSync& operator=(const DeferredLogSync&) = delete;

    bool skipped() const { return skipped_; }
    // True inside a DeferredLogSync on this thread (for SQLite's commit hooks).
    static bool active();

private:
    friend struct DeferredLogSyncAccess;
    DeferredLogSync* outer_;
    bool skipped_ = false;
};

// Counts since start, for tests: log writes SQLite issued, writes that reached the OS, syncs of the
// log that reached the OS, and syncs left to the caller by a DeferredLogSync.
struct WalWriteCounts {
    std::uint64_t requested = 0;
    std::uint64_t issued = 0;
    std::uint64_t synced = 0;
    std::uint64_t deferred = 0;
};
WalWriteCounts wal_write_counts();

}  // namespace leadhatch::adapters::storage
