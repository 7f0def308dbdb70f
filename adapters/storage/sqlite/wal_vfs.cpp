#include "adapters/storage/sqlite/wal_vfs.hpp"

#include "adapters/storage/sqlite/sqlite_db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace leadhatch::adapters::storage {
namespace {

std::atomic<std::uint64_t> g_requested{0};
std::atomic<std::uint64_t> g_issued{0};

constexpr sqlite3_int64 kWalBufferMax = 4 << 20;

sqlite3_vfs* g_root = nullptr;  // the default VFS, set once before registration

// The log file: our header, then the default VFS's file object at kRealOffset.
struct WalFile {
    sqlite3_file base;
    sqlite3_file* real;
    char* buf;                 // sqlite3_malloc'd, cap bytes
    sqlite3_int64 start;       // file offset of buf[0]
    sqlite3_int64 len;         // bytes buffered
    sqlite3_int64 cap;
};

constexpr std::size_t kRealOffset = (sizeof(WalFile) + 15) / 16 * 16;

WalFile* wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

// The default VFS writes at most 128 KiB - 1 per call (it masks larger sizes), so the buffer goes
// out in pieces of kPiece.
constexpr sqlite3_int64 kPiece = 124 << 10;

int flush(WalFile* f) {
    int rc = SQLITE_OK;
    for (sqlite3_int64 done = 0; done < f->len && rc == SQLITE_OK; done += kPiece) {
        g_issued.fetch_add(1, std::memory_order_relaxed);
        const auto n = static_cast<int>(std::min(kPiece, f->len - done));
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, n, f->start + done);
    }
    f->len = 0;
    return rc;
}

int wal_close(sqlite3_file* file) {
    auto* f = wal(file);
    const int flushed = flush(f);
    const int rc = f->real->pMethods->xClose(f->real);
    sqlite3_free(f->buf);
    return flushed != SQLITE_OK ? flushed : rc;
}

int wal_read(sqlite3_file* file, void* out, int amt, sqlite3_int64 off) {
    auto* f = wal(file);
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xRead(f->real, out, amt, off);
}

// Makes room for `need` buffered bytes; false when the buffer may not grow that far.
bool reserve(WalFile* f, sqlite3_int64 need) {
    if (need <= f->cap) return true;
    if (need > kWalBufferMax) return false;
    const sqlite3_int64 cap = std::min<sqlite3_int64>(kWalBufferMax, std::max<sqlite3_int64>(need, 2 * f->cap + 65536));
    auto* grown = static_cast<char*>(sqlite3_realloc64(f->buf, static_cast<sqlite3_uint64>(cap)));
    if (grown == nullptr) return false;
    f->buf = grown;
    f->cap = cap;
    return true;
}

int wal_write(sqlite3_file* file, const void* data, int amt, sqlite3_int64 off) {
    auto* f = wal(file);
    g_requested.fetch_add(1, std::memory_order_relaxed);
    const bool appends = f->len > 0 && off == f->start + f->len;
    if (!appends) {
        if (const int rc = flush(f); rc != SQLITE_OK) return rc;
        f->start = off;
    }
    if (!reserve(f, f->len + amt)) {
        // Too big to gather (or no memory): write what is buffered, then this one directly.
        if (const int rc = flush(f); rc != SQLITE_OK) return rc;
        g_issued.fetch_add(1, std::memory_order_relaxed);
        return f->real->pMethods->xWrite(f->real, data, amt, off);
    }
    std::memcpy(f->buf + f->len, data, static_cast<std::size_t>(amt));
    f->len += amt;
    return SQLITE_OK;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
    auto* f = wal(file);
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xTruncate(f->real, size);
}

int wal_sync(sqlite3_file* file, int flags) {
    auto* f = wal(file);
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xSync(f->real, flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
    auto* f = wal(file);
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xFileSize(f->real, size);
}

int wal_lock(sqlite3_file* file, int level) { return wal(file)->real->pMethods->xLock(wal(file)->real, level); }
int wal_unlock(sqlite3_file* file, int level) { return wal(file)->real->pMethods->xUnlock(wal(file)->real, level); }
int wal_check_reserved(sqlite3_file* file, int* out) {
    return wal(file)->real->pMethods->xCheckReservedLock(wal(file)->real, out);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
    auto* f = wal(file);
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

int wal_sector_size(sqlite3_file* file) { return wal(file)->real->pMethods->xSectorSize(wal(file)->real); }
int wal_device(sqlite3_file* file) { return wal(file)->real->pMethods->xDeviceCharacteristics(wal(file)->real); }

// Version 1: SQLite never maps or shares memory through the log file.
const sqlite3_io_methods kWalMethods = {
    1,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved,
    wal_file_control,
    wal_sector_size,
    wal_device,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    // Every other file is the default VFS's own object, at the start of the same memory.
    if ((flags & SQLITE_OPEN_WAL) == 0) return g_root->xOpen(g_root, name, file, flags, out_flags);
    auto* f = wal(file);
    auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
    f->base.pMethods = nullptr;
    f->real = real;
    f->buf = nullptr;
    f->start = 0;
    f->len = 0;
    f->cap = 0;
    const int rc = g_root->xOpen(g_root, name, real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (real->pMethods != nullptr) real->pMethods->xClose(real);
        return rc;
    }
    f->base.pMethods = &kWalMethods;
    return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_root->xDelete(g_root, name, sync_dir); }
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_root->xAccess(g_root, name, flags, out); }
int vfs_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return g_root->xFullPathname(g_root, name, n, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) { return g_root->xDlOpen(g_root, name); }
void vfs_dl_error(sqlite3_vfs*, int n, char* out) { g_root->xDlError(g_root, n, out); }
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* sym))(void) { return g_root->xDlSym(g_root, handle, sym); }
void vfs_dl_close(sqlite3_vfs*, void* handle) { g_root->xDlClose(g_root, handle); }
int vfs_randomness(sqlite3_vfs*, int n, char* out) { return g_root->xRandomness(g_root, n, out); }
int vfs_sleep(sqlite3_vfs*, int us) { return g_root->xSleep(g_root, us); }
int vfs_current_time(sqlite3_vfs*, double* out) { return g_root->xCurrentTime(g_root, out); }
int vfs_last_error(sqlite3_vfs*, int n, char* out) { return g_root->xGetLastError(g_root, n, out); }
int vfs_current_time64(sqlite3_vfs*, sqlite3_int64* out) { return g_root->xCurrentTimeInt64(g_root, out); }

constexpr const char* kName = "leadhatch-wal";

}  // namespace

const char* wal_buffering_vfs() {
    static const char* const name = [] {
        configure_sqlite_library();  // sqlite3_vfs_find would initialize the library first
        g_root = sqlite3_vfs_find(nullptr);
        if (g_root == nullptr || g_root->iVersion < 2) throw std::runtime_error("sqlite: no default VFS to wrap");
        static sqlite3_vfs vfs{};
        vfs.iVersion = 2;
        vfs.szOsFile = static_cast<int>(kRealOffset) + g_root->szOsFile;
        vfs.mxPathname = g_root->mxPathname;
        vfs.zName = kName;
        vfs.xOpen = vfs_open;
        vfs.xDelete = vfs_delete;
        vfs.xAccess = vfs_access;
        vfs.xFullPathname = vfs_full_pathname;
        vfs.xDlOpen = vfs_dl_open;
        vfs.xDlError = vfs_dl_error;
        vfs.xDlSym = vfs_dl_sym;
        vfs.xDlClose = vfs_dl_close;
        vfs.xRandomness = vfs_randomness;
        vfs.xSleep = vfs_sleep;
        vfs.xCurrentTime = vfs_current_time;
        vfs.xGetLastError = vfs_last_error;
        vfs.xCurrentTimeInt64 = vfs_current_time64;
        if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) throw std::runtime_error("sqlite: cannot register the WAL VFS");
        return kName;
    }();
    return name;
}

WalWriteCounts wal_write_counts() {
    return {g_requested.load(std::memory_order_relaxed), g_issued.load(std::memory_order_relaxed)};
}

}  // namespace leadhatch::adapters::storage
