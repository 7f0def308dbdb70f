#include "adapters/chat/wechat/wechat_crypto.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "adapters/chat/wechat/xml.hpp"

namespace leadhatch::adapters::wechat {

namespace {

constexpr std::size_t kAesBlockSize = 16;
constexpr std::size_t kPadBlockSize = 32;  // PKCS#7 block size of the scheme (not AES's 16)
constexpr std::size_t kRandomSize = 16;
constexpr std::size_t kLengthFieldSize = 4;
constexpr std::size_t kHeaderSize = kRandomSize + kLengthFieldSize;
constexpr std::size_t kEncodingAesKeySize = 43;
constexpr std::size_t kMaxCipherInput = INT_MAX - 2 * kPadBlockSize;  // EVP takes int lengths
constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct CipherCtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// AES-256-CBC over whole blocks with OpenSSL's padding off; IV = the first 16 bytes of the key.
// nullopt if OpenSSL fails.
std::optional<std::string> aes_256_cbc(const std::array<unsigned char, 32>& key, std::string_view in, bool encrypt) {
    if (in.size() % kAesBlockSize != 0 || in.size() > kMaxCipherInput) return std::nullopt;
    const CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return std::nullopt;
    if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), key.data(), encrypt ? 1 : 0) != 1) {
        return std::nullopt;
    }
    if (EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) return std::nullopt;
    std::string out(in.size() + kAesBlockSize, '\0');
    auto* out_bytes = reinterpret_cast<unsigned char*>(out.data());
    int written = 0;
    if (EVP_CipherUpdate(ctx.get(), out_bytes, &written, bytes_of(in), static_cast<int>(in.size())) != 1) {
        return std::nullopt;
    }
    int tail = 0;
    if (EVP_CipherFinal_ex(ctx.get(), out_bytes + written, &tail) != 1) return std::nullopt;
    out.resize(static_cast<std::size_t>(written) + static_cast<std::size_t>(tail));
    return out;
}

}  // namespace

std::string sha1_signature(std::vector<std::string> parts) {
    std::sort(parts.begin(), parts.end());  // char_traits<char> compares as unsigned bytes
    std::string joined;
    for (const std::string& p : parts) joined += p;
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int md_len = 0;
    if (EVP_Digest(joined.data(), joined.size(), md.data(), &md_len, EVP_sha1(), nullptr) != 1) {
        throw std::runtime_error("wechat: SHA-1 failed");
    }
    constexpr std::string_view kHex = "0123456789abcdef";
    std::string hex;
    hex.reserve(std::size_t{2} * md_len);
    for (const unsigned char byte : std::span(md).first(md_len)) {
        hex.push_back(kHex[byte >> 4U]);
        hex.push_back(kHex[byte & 0x0FU]);
    }
    return hex;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16U) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8U) |
                                std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
        out.push_back(kBase64Alphabet[(n >> 18U) & 0x3FU]);
        out.push_back(kBase64Alphabet[(n >> 12U) & 0x3FU]);
        out.push_back(kBase64Alphabet[(n >> 6U) & 0x3FU]);
        out.push_back(kBase64Alphabet[n & 0x3FU]);
    }
    const std::size_t left = bytes.size() - i;
    if (left > 0) {
        std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16U;
        if (left == 2) n |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8U;
        out.push_back(kBase64Alphabet[(n >> 18U) & 0x3FU]);
        out.push_back(kBase64Alphabet[(n >> 12U) & 0x3FU]);
        out.push_back(left == 2 ? kBase64Alphabet[(n >> 6U) & 0x3FU] : '=');
        out.push_back('=');
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last_quad = i + 4 == text.size();
        std::uint32_t n = 0;
        std::size_t padding = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            int v = 0;
            if (c == '=') {
                if (!last_quad || k < 2) return std::nullopt;
                ++padding;
            } else {
                v = base64_value(c);
                if (v < 0 || padding > 0) return std::nullopt;  // bad character, or data after '='
            }
            n = (n << 6U) | static_cast<std::uint32_t>(v);
        }
        out.push_back(static_cast<char>((n >> 16U) & 0xFFU));
        if (padding < 2) out.push_back(static_cast<char>((n >> 8U) & 0xFFU));
        if (padding < 1) out.push_back(static_cast<char>(n & 0xFFU));
    }
    return out;
}

std::string_view to_string(CryptoError error) {
    switch (error) {
        case CryptoError::kBadBase64:
            return "bad base64";
        case CryptoError::kBadLength:
            return "bad ciphertext length";
        case CryptoError::kBadPadding:
            return "bad padding";
        case CryptoError::kBadLengthField:
            return "bad message length field";
        case CryptoError::kReceiveIdMismatch:
            return "receive id mismatch";
        case CryptoError::kCipherFailure:
            return "cipher failure";
    }
    return "unknown crypto error";
}

std::variant<MessageCrypto, std::string> MessageCrypto::create(std::string_view token,
                                                               std::string_view encoding_aes_key,
                                                               std::string_view receive_id) {
    if (token.empty()) return std::string("wechat: token must not be empty");
    if (encoding_aes_key.size() != kEncodingAesKeySize) {
        return std::string("wechat: EncodingAESKey must be 43 characters");
    }
    std::string padded(encoding_aes_key);
    padded.push_back('=');
    std::optional<std::string> raw = base64_decode(padded);
    OPENSSL_cleanse(padded.data(), padded.size());
    if (!raw || raw->size() != kKeySize) return std::string("wechat: EncodingAESKey is not valid Base64");
    std::array<unsigned char, kKeySize> key{};
    std::copy(raw->begin(), raw->end(), key.begin());
    OPENSSL_cleanse(raw->data(), raw->size());
    return MessageCrypto(std::string(token), key, std::string(receive_id));
}

std::variant<std::string, CryptoError> MessageCrypto::decrypt(std::string_view base64_ciphertext) const {
    const std::optional<std::string> cipher = base64_decode(base64_ciphertext);
    if (!cipher) return CryptoError::kBadBase64;
    // Whole AES blocks, and at least one padding block's worth.
    if (cipher->size() % kAesBlockSize != 0 || cipher->size() < kPadBlockSize || cipher->size() > kMaxCipherInput) {
        return CryptoError::kBadLength;
    }
    std::optional<std::string> plain = aes_256_cbc(key_, *cipher, false);
    if (!plain) return CryptoError::kCipherFailure;

    // PKCS#7 with block size 32: the last byte n is 1..32 and the last n bytes all equal n. The
    // last 32 bytes are always read so the check does not branch on where the padding starts.
    const std::size_t size = plain->size();
    const auto pad = static_cast<unsigned char>((*plain)[size - 1]);
    unsigned int bad = static_cast<unsigned int>(pad == 0) | static_cast<unsigned int>(pad > kPadBlockSize);
    for (std::size_t i = 0; i < kPadBlockSize; ++i) {
        const auto byte = static_cast<unsigned char>((*plain)[size - 1 - i]);
        bad |= static_cast<unsigned int>(i < pad) & static_cast<unsigned int>(byte != pad);
    }
    if (bad != 0) return CryptoError::kBadPadding;
    const std::size_t content_size = size - pad;
    if (content_size < kHeaderSize) return CryptoError::kBadLength;

    const std::string_view content = std::string_view(*plain).substr(0, content_size);
    std::size_t msg_len = 0;
    for (std::size_t i = kRandomSize; i < kHeaderSize; ++i) {
        msg_len = (msg_len << 8U) | static_cast<unsigned char>(content[i]);
    }
    if (msg_len > content_size - kHeaderSize) return CryptoError::kBadLengthField;
    if (!constant_time_equal(content.substr(kHeaderSize + msg_len), receive_id_)) {
        return CryptoError::kReceiveIdMismatch;
    }
    return std::string(content.substr(kHeaderSize, msg_len));
}

std::string MessageCrypto::encrypt(std::string_view message, std::string_view random16) const {
    if (!random16.empty() && random16.size() != kRandomSize) {
        throw std::invalid_argument("wechat: random prefix must be 16 bytes");
    }
    if (message.size() > UINT32_MAX || message.size() + receive_id_.size() > kMaxCipherInput - kPadBlockSize) {
        throw std::invalid_argument("wechat: message too large to encrypt");
    }
    std::string plain;
    plain.reserve(kHeaderSize + message.size() + receive_id_.size() + kPadBlockSize);
    if (random16.empty()) {
        std::array<unsigned char, kRandomSize> random{};
        if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
            throw std::runtime_error("wechat: RAND_bytes failed");
        }
        plain.append(random.begin(), random.end());
    } else {
        plain.append(random16);
    }
    const auto msg_len = static_cast<std::uint32_t>(message.size());
    for (unsigned int shift = 24;; shift -= 8) {
        plain.push_back(static_cast<char>((msg_len >> shift) & 0xFFU));
        if (shift == 0) break;
    }
    plain.append(message);
    plain.append(receive_id_);
    const std::size_t pad = kPadBlockSize - plain.size() % kPadBlockSize;  // 1..32
    plain.append(pad, static_cast<char>(pad));

    const std::optional<std::string> cipher = aes_256_cbc(key_, plain, true);
    OPENSSL_cleanse(plain.data(), plain.size());
    if (!cipher) throw std::runtime_error("wechat: AES encryption failed");
    return base64_encode(*cipher);
}

bool MessageCrypto::verify(std::string_view msg_signature, std::string_view timestamp, std::string_view nonce,
                           std::string_view encrypt) const {
    return constant_time_equal(msg_signature, sign(timestamp, nonce, encrypt));
}

std::string MessageCrypto::sign(std::string_view timestamp, std::string_view nonce, std::string_view encrypt) const {
    return sha1_signature({token_, std::string(timestamp), std::string(nonce), std::string(encrypt)});
}

std::string MessageCrypto::encrypted_reply(std::string_view message, std::string_view timestamp, std::string_view nonce,
                                           std::string_view random16) const {
    const std::string encrypted = encrypt(message, random16);
    return build_encrypted_reply(encrypted, sign(timestamp, nonce, encrypted), timestamp, nonce);
}

std::string build_encrypted_reply(std::string_view encrypt, std::string_view signature, std::string_view timestamp,
                                  std::string_view nonce) {
    std::string out = "<xml><Encrypt>";
    out += xml_cdata(encrypt);
    out += "</Encrypt><MsgSignature>";
    out += xml_cdata(signature);
    out += "</MsgSignature><TimeStamp>";
    out += xml_escape(timestamp);
    out += "</TimeStamp><Nonce>";
    out += xml_cdata(nonce);
    out += "</Nonce></xml>";
    return out;
}

}  // namespace leadhatch::adapters::wechat
