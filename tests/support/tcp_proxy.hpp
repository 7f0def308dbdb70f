#pragma once

#include <cstdint>
#include <memory>

namespace leadhatch::testing {

// A loopback TCP proxy to 127.0.0.1:target_port that a test can cut: cut() drops every open
// connection and refuses new ones (as a dead database server would); restore() accepts again.
class TcpProxy {
public:
    explicit TcpProxy(std::uint16_t target_port);
    ~TcpProxy();
    TcpProxy(const TcpProxy&) = delete;
    TcpProxy& operator=(const TcpProxy&) = delete;

    std::uint16_t port() const;
    void cut();
    void restore();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace leadhatch::testing
