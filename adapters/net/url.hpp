#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leadhatch::adapters::net {

// Request headers as views into the connection's buffer (valid while the request is handled).
using HeaderViews = std::vector<std::pair<std::string_view, std::string_view>>;
// Case-insensitive lookup; nullptr when absent.
const std::string_view* find_header(const HeaderViews& headers, std::string_view name);
bool iequals(std::string_view a, std::string_view b);

std::string percent_decode(std::string_view in, bool plus_is_space);
std::string percent_encode(std::string_view in);  // RFC 3986 unreserved characters stay as they are
// The first value of a query parameter (raw query string without '?'), percent-decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace leadhatch::adapters::net
