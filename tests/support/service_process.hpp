#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace leadhatch::testing {

// The real leadhatch binary as a child process: `serve --config FILE` with extra environment,
// its stderr captured, the port read from its "listening on" line.
class ServiceProcess {
public:
    ServiceProcess(std::string config_path, std::vector<std::pair<std::string, std::string>> env = {},
                   std::vector<std::string> extra_args = {});
    ~ServiceProcess();  // SIGKILLs a process still running
    ServiceProcess(const ServiceProcess&) = delete;
    ServiceProcess& operator=(const ServiceProcess&) = delete;

    // Starts and waits until it listens. False (with logs()) when it exits or times out first.
    bool start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    std::uint16_t port() const { return port_; }
    void signal(int sig);
    // Exit code after it ends; -1 on timeout; 128+N when killed by signal N.
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    bool running();
    std::string logs() const;

    // Runs the binary with arguments to completion: {exit code, stdout + stderr}.
    static std::pair<int, std::string> run(const std::vector<std::string>& args,
                                           const std::vector<std::pair<std::string, std::string>>& env = {});

private:
    std::string config_;
    std::vector<std::pair<std::string, std::string>> env_;
    std::vector<std::string> extra_;
    int pid_ = -1;
    int out_fd_ = -1;
    int status_ = -1;
    std::uint16_t port_ = 0;
    std::thread reader_;
    mutable std::mutex mu_;
    std::string logs_;
};

}  // namespace leadhatch::testing
