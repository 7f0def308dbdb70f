#include "adapters/chat/chat_adapter.hpp"

#include <openssl/crypto.h>

#include "adapters/net/url.hpp"

namespace leadhatch::adapters::chat {

const std::string* WebhookRequest::header(std::string_view lower_name) const {
    if (!headers) return nullptr;
    for (const auto& [k, v] : *headers) {
        if (k == lower_name) return &v;
    }
    return nullptr;
}

std::optional<std::string> WebhookRequest::query_param(std::string_view name) const {
    return net::query_param(query, name);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace leadhatch::adapters::chat
