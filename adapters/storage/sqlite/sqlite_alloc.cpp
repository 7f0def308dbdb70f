#include "adapters/storage/sqlite/sqlite_alloc.hpp"

#include <sqlite3.h>

#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>

namespace leadhatch::adapters::storage {
namespace {

constexpr std::size_t kHeader = 16;
constexpr std::size_t kMinClass = 64;
constexpr std::size_t kMaxClass = 4096;
constexpr int kClasses = 7;  // 64, 128, ..., 4096
// Blocks a thread keeps per class: many of the small ones (a statement frees dozens at reset),
// fewer of the large.
constexpr std::uint32_t kKeep[kClasses] = {256, 256, 256, 256, 64, 64, 64};

std::atomic<std::uint64_t> g_reused{0};
std::atomic<std::uint64_t> g_fresh{0};

struct FreeBlock {
    FreeBlock* next;
};

struct Lists {
    FreeBlock* head[kClasses] = {};
    std::uint32_t count[kClasses] = {};
    ~Lists();
};

// The lists die with their thread; a block freed on the thread after that (a later
// thread_local's destructor closing a connection) goes back to malloc.
thread_local bool t_lists_gone = false;
thread_local Lists t_lists;

Lists::~Lists() {
    t_lists_gone = true;
    for (auto* h : head) {
        while (h != nullptr) {
            auto* next = h->next;
            std::free(h);
            h = next;
        }
    }
}

int class_of(std::size_t n) {  // n <= kMaxClass
    const std::size_t c = std::bit_ceil(n < kMinClass ? kMinClass : n);
    return std::countr_zero(c) - std::countr_zero(kMinClass);
}
constexpr std::size_t class_size(int c) { return kMinClass << c; }

std::size_t& size_of(void* block) { return *static_cast<std::size_t*>(block); }
void* user(void* block) { return static_cast<char*>(block) + kHeader; }
void* block_of(void* p) { return static_cast<char*>(p) - kHeader; }

// What a request of n bytes gets: its size class, or n rounded up to 16 above the largest class.
std::size_t usable_size(std::size_t n) {
    return n > kMaxClass ? (n + 15) & ~std::size_t{15} : class_size(class_of(n));
}

void* xmalloc(int n) {
    if (n <= 0) return nullptr;
    const std::size_t size = usable_size(static_cast<std::size_t>(n));
    if (size <= kMaxClass && !t_lists_gone) {
        const int c = class_of(size);
        if (FreeBlock* b = t_lists.head[c]; b != nullptr) {
            t_lists.head[c] = b->next;
            --t_lists.count[c];
            g_reused.fetch_add(1, std::memory_order_relaxed);
            size_of(b) = size;  // the list's link overwrote it
            return user(b);
        }
    }
    void* block = std::malloc(kHeader + size);
    if (block == nullptr) return nullptr;
    g_fresh.fetch_add(1, std::memory_order_relaxed);
    size_of(block) = size;
    return user(block);
}

void xfree(void* p) {
    if (p == nullptr) return;
    void* block = block_of(p);
    const std::size_t size = size_of(block);
    if (size <= kMaxClass && !t_lists_gone) {
        const int c = class_of(size);
        if (t_lists.count[c] < kKeep[c]) {
            auto* b = static_cast<FreeBlock*>(block);
            b->next = t_lists.head[c];
            t_lists.head[c] = b;
            ++t_lists.count[c];
            return;
        }
    }
    std::free(block);
}

int xsize(void* p) { return p == nullptr ? 0 : static_cast<int>(size_of(block_of(p))); }

void* xrealloc(void* p, int n) {
    if (p == nullptr) return xmalloc(n);
    const int have = xsize(p);
    if (n <= have && (have <= static_cast<int>(kMaxClass) || n > have / 2)) return p;
    void* q = xmalloc(n);
    if (q == nullptr) return nullptr;  // SQLite keeps p
    std::memcpy(q, p, static_cast<std::size_t>(have < n ? have : n));
    xfree(p);
    return q;
}

int xroundup(int n) { return n <= 0 ? 0 : static_cast<int>(usable_size(static_cast<std::size_t>(n))); }

int xinit(void*) { return SQLITE_OK; }
void xshutdown(void*) {}

const sqlite3_mem_methods kMethods = {xmalloc, xfree, xrealloc, xsize, xroundup, xinit, xshutdown, nullptr};

}  // namespace

const sqlite3_mem_methods& sqlite_block_allocator() { return kMethods; }

SqliteAllocCounts sqlite_alloc_counts() {
    return {g_reused.load(std::memory_order_relaxed), g_fresh.load(std::memory_order_relaxed)};
}

}  // namespace leadhatch::adapters::storage
