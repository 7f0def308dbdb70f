#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/net/asio.hpp"
#include "adapters/net/url.hpp"

namespace leadhatch::bot {

// A request as handlers and platform adapters see it: no Beast types, so they stay light to
// compile and easy to test without a socket.
struct HttpRequest {
    std::string method;  // "GET", "POST", ...
    std::string target;  // "/webhooks/tg-main?x=1"
    // Views into the connection's buffer: valid until the response is written.
    adapters::net::HeaderViews headers;
    std::string body;
    std::string request_id;
    std::string remote;  // peer address

    std::string_view path() const;
    std::string_view query() const;
    const std::string_view* header(std::string_view name) const;  // case-insensitive
    // The first value of a query parameter, percent-decoded ('+' is a space).
    std::optional<std::string> query_param(std::string_view name) const;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // A streamed body (chunked): called until it returns nullopt; `body` is then ignored. Each
    // chunk is written before the next is asked for, so memory stays flat however long it runs.
    std::function<boost::asio::awaitable<std::optional<std::string>>()> stream;
};

std::string percent_decode(std::string_view in, bool plus_is_space);

HttpResponse text_response(int status, std::string body);
HttpResponse json_response(int status, std::string body);
// The admin API's error shape: {"error": {"code": ..., "message": ..., "field": ...}}.
HttpResponse json_error(int status, std::string_view code, std::string_view message, std::string_view field = {});

}  // namespace leadhatch::bot
