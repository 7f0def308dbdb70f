#include "tests/support/service_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "tests/support/test_db.hpp"

extern char** environ;

namespace leadhatch::testing {
namespace {

int spawn(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
          int& out_fd) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        ::close(fds[0]);
        ::close(fds[1]);
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        std::fprintf(stderr, "exec %s failed: %s\n", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(fds[1]);
    out_fd = fds[0];
    return pid;
}

int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

ServiceProcess::ServiceProcess(std::string config_path, std::vector<std::pair<std::string, std::string>> env,
                               std::vector<std::string> extra_args)
    : config_(std::move(config_path)), env_(std::move(env)), extra_(std::move(extra_args)) {}

ServiceProcess::~ServiceProcess() {
    if (pid_ > 0 && status_ < 0) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
    }
    if (reader_.joinable()) reader_.join();
    if (out_fd_ >= 0) ::close(out_fd_);
}

bool ServiceProcess::start(std::chrono::milliseconds timeout) {
    std::vector<std::string> args{leadhatch_binary(), "serve", "--config", config_};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = spawn(args, env_, out_fd_);
    if (pid_ < 0) return false;
    status_ = -1;
    port_ = 0;
    reader_ = std::thread([this] {
        char buf[4096];
        for (;;) {
            const auto n = ::read(out_fd_, buf, sizeof buf);
            if (n <= 0) break;
            std::lock_guard lk(mu_);
            logs_.append(buf, static_cast<std::size_t>(n));
        }
    });
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lk(mu_);
            const auto p = logs_.find("listening on 127.0.0.1:");
            if (p != std::string::npos) {
                port_ = static_cast<std::uint16_t>(std::atoi(logs_.c_str() + p + 23));
                if (port_ != 0) return true;
            }
        }
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            status_ = decode(st);
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

void ServiceProcess::signal(int sig) {
    if (pid_ > 0 && status_ < 0) ::kill(pid_, sig);
}

bool ServiceProcess::running() {
    if (pid_ <= 0 || status_ >= 0) return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = decode(st);
        return false;
    }
    return true;
}

int ServiceProcess::wait(std::chrono::milliseconds timeout) {
    if (status_ >= 0) return status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            status_ = decode(st);
            if (reader_.joinable()) reader_.join();
            return status_;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
}

std::string ServiceProcess::logs() const {
    std::lock_guard lk(mu_);
    return logs_;
}

std::pair<int, std::string> ServiceProcess::run(const std::vector<std::string>& args,
                                                const std::vector<std::pair<std::string, std::string>>& env) {
    std::vector<std::string> argv{leadhatch_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    int fd = -1;
    const int pid = spawn(argv, env, fd);
    std::string out;
    char buf[4096];
    for (;;) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return {decode(st), out};
}

}  // namespace leadhatch::testing
