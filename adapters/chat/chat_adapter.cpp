#include "adapters/chat/chat_adapter.hpp"

#include <openssl/crypto.h>

#include "adapters/net/url.hpp"

namespace leadhatch::adapters::chat {

const std::string_view* WebhookRequest::header(std::string_view name) const {
    return headers ? net::find_header(*headers, name) : nullptr;
}

std::optional<std::string> WebhookRequest::query_param(std::string_view name) const {
    return net::query_param(query, name);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace leadhatch::adapters::chat
