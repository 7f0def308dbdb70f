#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace leadhatch::testing {

// A blocking loopback TCP client for tests: byte-exact requests, slow clients, raw responses.
class RawConn {
public:
    explicit RawConn(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
        int one = 1;
        if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~RawConn() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawConn(const RawConn&) = delete;
    RawConn& operator=(const RawConn&) = delete;

    bool ok() const { return fd_ >= 0; }

    bool send(const std::string& data) {
        std::size_t off = 0;
        while (off < data.size()) {
            const auto n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Reads until the peer closes or `timeout` passes. closed() tells which.
    std::string read_all(std::chrono::milliseconds timeout) {
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        closed_ = false;
        while (true) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char buf[8192];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

    // Reads one response with a Content-Length body (keep-alive use).
    std::string read_response(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (true) {
            const auto head_end = pending_.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                std::size_t len = 0;
                const auto cl = lower(pending_.substr(0, head_end)).find("content-length:");
                if (cl != std::string::npos) len = std::stoul(pending_.substr(cl + 15));
                if (pending_.size() >= head_end + 4 + len) {
                    std::string r = pending_.substr(0, head_end + 4 + len);
                    pending_.erase(0, head_end + 4 + len);
                    return r;
                }
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return {};
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
            char buf[8192];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                return {};
            }
            pending_.append(buf, static_cast<std::size_t>(n));
        }
    }

    bool closed() const { return closed_; }

    static int status_of(const std::string& response) {
        if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
        return std::stoi(response.substr(9, 3));
    }
    static std::string body_of(const std::string& response) {
        const auto p = response.find("\r\n\r\n");
        return p == std::string::npos ? std::string{} : response.substr(p + 4);
    }
    static std::string lower(std::string s) {
        for (auto& c : s) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        return s;
    }

private:
    int fd_ = -1;
    bool closed_ = false;
    std::string pending_;
};

// One request on a fresh connection; returns the raw response.
inline std::string http_request(std::uint16_t port, const std::string& method, const std::string& target,
                                const std::string& body = {}, const std::string& extra_headers = {},
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    RawConn c(port);
    if (!c.ok()) return {};
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers;
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    c.send(req);
    return c.read_all(timeout);
}

}  // namespace leadhatch::testing
