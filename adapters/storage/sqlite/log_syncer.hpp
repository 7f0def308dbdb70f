#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace leadhatch::adapters::storage {

// Makes deferred commits durable (see DeferredLogSync in wal_vfs.hpp). The writer reports each
// commit whose log sync it left out; a thread of its own syncs the log file and calls back everyone
// waiting for the commits that sync covered. A sync covers every commit made before it started, so
// under load one sync serves many commits, and the writer goes on with its next transaction while
// the disk works.
//
// A failed sync is final: the commits it should have covered may be lost at a power cut, and the
// kernel may have dropped the pages it could not write, so a later sync that succeeds proves
// nothing about them. Every waiter from then on hears `false` until the process restarts (SQLite
// then recovers the log as the disk holds it).
class LogSyncer {
public:
    // Syncs the open file; returns 0 or an errno value. The default is fdatasync.
    using SyncFn = std::function<int(int fd)>;

    LogSyncer(std::string log_path, SyncFn sync = {});
    // Syncs what is owed and answers every waiter, then stops.
    ~LogSyncer();
    LogSyncer(const LogSyncer&) = delete;
    LogSyncer& operator=(const LogSyncer&) = delete;

    // A commit with its sync left out has been made (the writer's thread, after COMMIT).
    void committed();
    // Calls fn(true) once every commit reported so far is durable: at once on this thread when it
    // already is, otherwise on the syncer's thread. fn(false) after a failed sync.
    void when_durable(std::function<void(bool)> fn);
    bool failed() const;

    struct Counts {
        std::uint64_t commits = 0;  // deferred commits reported
        std::uint64_t syncs = 0;    // syncs made
    };
    Counts counts() const;

private:
    void run();
    int sync_log();

    const std::string path_;
    const SyncFn sync_;
    int fd_ = -1;  // the syncer thread's only

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t committed_ = 0;
    std::uint64_t synced_ = 0;
    std::uint64_t syncs_ = 0;
    bool failed_ = false;
    bool stopping_ = false;
    std::vector<std::pair<std::uint64_t, std::function<void(bool)>>> waiting_;
    std::thread thread_;
};

}  // namespace leadhatch::adapters::storage
