#include "adapters/storage/sqlite/log_syncer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <spdlog/spdlog.h>

namespace leadhatch::adapters::storage {

LogSyncer::LogSyncer(std::string log_path, SyncFn sync)
    : path_(std::move(log_path)),
      sync_(sync ? std::move(sync) : SyncFn([](int fd) { return ::fdatasync(fd) == 0 ? 0 : errno; })) {
    thread_ = std::thread([this] { run(); });
}

LogSyncer::~LogSyncer() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
}

void LogSyncer::committed() {
    std::lock_guard lk(mu_);
    ++committed_;
}

void LogSyncer::when_durable(std::function<void(bool)> fn) {
    std::unique_lock lk(mu_);
    if (failed_ || synced_ >= committed_) {
        const bool ok = !failed_;
        lk.unlock();
        fn(ok);
        return;
    }
    waiting_.emplace_back(committed_, std::move(fn));
    lk.unlock();
    cv_.notify_one();
}

bool LogSyncer::failed() const {
    std::lock_guard lk(mu_);
    return failed_;
}

LogSyncer::Counts LogSyncer::counts() const {
    std::lock_guard lk(mu_);
    return {committed_, syncs_};
}

// The log file is opened here, on first need: it exists by then, because the first sync of a log is
// never deferred. fdatasync through this descriptor flushes what the writer's descriptor wrote (one
// file, one page cache).
int LogSyncer::sync_log() {
    if (fd_ < 0) {
        fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) return errno;
    }
    return sync_(fd_);
}

void LogSyncer::run() {
    std::vector<std::function<void(bool)>> ready;
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait(lk, [&] { return stopping_ || !waiting_.empty(); });
        if (waiting_.empty()) return;  // stopping, nothing owed
        const std::uint64_t target = committed_;
        if (!failed_ && synced_ < target) {
            lk.unlock();
            const int err = sync_log();
            lk.lock();
            ++syncs_;
            if (err == 0) {
                synced_ = target;
            } else if (!failed_) {
                failed_ = true;
                spdlog::critical("sqlite: syncing {} failed ({}): commits are no longer acknowledged; restart the "
                                 "service to recover the database from disk",
                                 path_, std::system_category().message(err));
            }
        }
        const bool ok = !failed_;
        std::erase_if(waiting_, [&](auto& w) {
            if (ok && w.first > synced_) return false;
            ready.push_back(std::move(w.second));
            return true;
        });
        lk.unlock();
        for (auto& fn : ready) fn(ok);
        ready.clear();
        lk.lock();
    }
}

}  // namespace leadhatch::adapters::storage
