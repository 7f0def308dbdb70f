#pragma once

// Shared by the WeChat Official Account and WeCom adapter tests: fixtures, requests, and raw AES
// for ciphertexts that MessageCrypto::encrypt() would never produce (bad padding).
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "adapters/chat/chat_adapter.hpp"
#include "adapters/chat/wechat/wechat_crypto.hpp"
#include "adapters/net/url.hpp"

namespace leadhatch::adapters::wechat::test {

inline std::string source_dir() {
    if (const char* env = std::getenv("LEADHATCH_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
    return LEADHATCH_SOURCE_DIR_DEFAULT;
}

inline std::string fixture(const std::string& name) {
    std::ifstream in(source_dir() + "/tests/fixtures/wechat/" + name + ".xml");
    if (!in) throw std::runtime_error("missing fixture " + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline MessageCrypto make_crypto(std::string_view token, std::string_view aes_key, std::string_view receive_id) {
    auto created = MessageCrypto::create(token, aes_key, receive_id);
    if (const auto* error = std::get_if<std::string>(&created)) throw std::runtime_error(*error);
    return std::get<MessageCrypto>(std::move(created));
}

// A query string from name/value pairs, values percent-encoded.
inline std::string query(const std::vector<std::pair<std::string, std::string>>& params) {
    std::string q;
    for (const auto& [k, v] : params) {
        if (!q.empty()) q += '&';
        q += k + "=" + net::percent_encode(v);
    }
    return q;
}

// Holds the strings a WebhookRequest views.
struct Request {
    std::string method = "POST";
    std::string query;
    std::string body;
    net::HeaderViews headers;
    chat::WebhookRequest view() const { return chat::WebhookRequest{method, query, body, &headers}; }
};

// The encrypted envelope WeChat/WeCom POST: <xml><ToUserName/><Encrypt/></xml>.
inline std::string envelope(std::string_view to, std::string_view encrypt) {
    return "<xml><ToUserName><![CDATA[" + std::string(to) + "]]></ToUserName><Encrypt><![CDATA[" +
           std::string(encrypt) + "]]></Encrypt></xml>";
}

inline std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24U), static_cast<char>((v >> 16U) & 0xFFU), static_cast<char>((v >> 8U) & 0xFFU),
            static_cast<char>(v & 0xFFU)};
}

// Raw AES-256-CBC as the scheme derives key and IV, no padding added: `plain` must be whole blocks.
inline std::string raw_ciphertext(std::string_view aes_key, std::string_view plain) {
    const std::string key = base64_decode(std::string(aes_key) + "=").value();
    const std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                              &EVP_CIPHER_CTX_free);
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    std::string out(plain.size() + 16, '\0');
    int n = 0;
    int tail = 0;
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, k, k) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
        EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                          reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &tail) != 1) {
        throw std::runtime_error("raw AES failed");
    }
    out.resize(static_cast<std::size_t>(n + tail));
    return base64_encode(out);
}

// random(16) + length + message + receive id, padded to 32 bytes with a final pad byte of 0 (never
// valid PKCS#7).
inline std::string badly_padded(std::string_view aes_key, std::string_view message, std::string_view receive_id) {
    std::string plain = std::string(16, 'r') + be32(static_cast<std::uint32_t>(message.size())) + std::string(message) +
                        std::string(receive_id);
    const std::size_t pad = 32 - plain.size() % 32;
    plain += std::string(pad - 1, static_cast<char>(pad));
    plain += '\0';
    return raw_ciphertext(aes_key, plain);
}

}  // namespace leadhatch::adapters::wechat::test
