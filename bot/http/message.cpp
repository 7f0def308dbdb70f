#include "bot/http/message.hpp"

#include <nlohmann/json.hpp>

#include "adapters/net/url.hpp"

namespace leadhatch::bot {

std::string_view HttpRequest::path() const {
    std::string_view t = target;
    const auto q = t.find('?');
    return q == std::string_view::npos ? t : t.substr(0, q);
}

std::string_view HttpRequest::query() const {
    std::string_view t = target;
    const auto q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

const std::string_view* HttpRequest::header(std::string_view name) const {
    return adapters::net::find_header(headers, name);
}

std::string percent_decode(std::string_view in, bool plus_is_space) {
    return adapters::net::percent_decode(in, plus_is_space);
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
    return adapters::net::query_param(query(), name);
}

HttpResponse text_response(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

HttpResponse json_response(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
}

HttpResponse json_error(int status, std::string_view code, std::string_view message, std::string_view field) {
    nlohmann::json err{{"code", code}, {"message", message}};
    if (!field.empty()) err["field"] = field;
    return json_response(status, nlohmann::json{{"error", err}}.dump());
}

}  // namespace leadhatch::bot
