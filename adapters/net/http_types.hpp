#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leadhatch::adapters::net {

// A call to a platform API, built by a platform adapter and executed by the HTTP client.
struct ApiRequest {
    std::string method = "POST";
    std::string url;  // absolute: http(s)://host[:port]/path?query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string content_type = "application/json";
    std::string body;
    // What logs may show instead of the URL (URLs can carry tokens: /bot<token>/sendMessage).
    std::string log_label;
};

struct ApiResponse {
    int status = 0;  // 0 when no HTTP response arrived
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string transport_error;  // set when status == 0: DNS, connect, TLS, timeout, reset
    bool timed_out = false;

    bool transport_failed() const { return status == 0; }
    const std::string* header(std::string_view lower_name) const {
        for (const auto& [k, v] : headers) {
            if (k == lower_name) return &v;
        }
        return nullptr;
    }
};

}  // namespace leadhatch::adapters::net
