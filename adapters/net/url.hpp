#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace leadhatch::adapters::net {

std::string percent_decode(std::string_view in, bool plus_is_space);
std::string percent_encode(std::string_view in);  // RFC 3986 unreserved characters stay as they are
// The first value of a query parameter (raw query string without '?'), percent-decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace leadhatch::adapters::net
