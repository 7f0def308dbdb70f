#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace leadhatch::adapters::wechat {

// The "message encryption/decryption" scheme shared by WeChat Official Accounts (safe mode) and
// WeCom callbacks (developer.work.weixin.qq.com/document/path/91144):
//   signature      = hex(sha1(sort(token, timestamp, nonce [, encrypt]) concatenated))
//   AESKey         = Base64_Decode(EncodingAESKey + "="), 32 bytes; IV = AESKey[0..16)
//   plaintext      = random(16) + msg_len (4 bytes, big-endian) + msg + receive_id
//   encrypt        = Base64(AES-256-CBC(PKCS#7 padding to a multiple of 32 bytes))
// receive_id is the Official Account's AppID, or for WeCom the CorpID / SuiteID (empty for some
// third-party apps).

// Lower-case hex SHA-1 of the parts sorted lexicographically (byte-wise) and concatenated. With
// (token, timestamp, nonce) it is the plain `signature`; adding the Encrypt value gives
// `msg_signature`.
std::string sha1_signature(std::vector<std::string> parts);

// Length check, then CRYPTO_memcmp: the time taken depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// Standard alphabet with '=' padding. Decoding is strict: the length must be a multiple of 4, only
// alphabet characters, '=' only as the last one or two characters, no whitespace. Non-zero unused
// bits in the last character are accepted (Tencent's 43-character EncodingAESKeys have them).
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

enum class CryptoError {
    kBadBase64,          // ciphertext is not strict Base64
    kBadLength,          // not a whole number of AES blocks, or too short for random + length field
    kBadPadding,         // PKCS#7 (block size 32) padding is malformed
    kBadLengthField,     // msg_len points past the end of the plaintext
    kReceiveIdMismatch,  // the trailing AppID/CorpID is not ours
    kCipherFailure,      // OpenSSL itself failed
};

std::string_view to_string(CryptoError error);

// One account's token + key + receive id. Immutable after create(), so one instance may be shared
// by any number of threads.
class MessageCrypto {
public:
    // encoding_aes_key: the 43-character EncodingAESKey. token must not be empty; receive_id may be.
    static std::variant<MessageCrypto, std::string> create(std::string_view token, std::string_view encoding_aes_key,
                                                           std::string_view receive_id);

    // Base64 ciphertext (the Encrypt element or a URL-decoded echostr) -> the message. Check
    // verify() first: only the signature authenticates the ciphertext, and the distinct errors
    // here must not be reachable by unauthenticated input.
    [[nodiscard]] std::variant<std::string, CryptoError> decrypt(std::string_view base64_ciphertext) const;

    // The message -> Base64 ciphertext. random16 is the 16-byte prefix (fixed values for tests);
    // empty draws it from RAND_bytes. Throws std::invalid_argument if random16 is neither empty
    // nor 16 bytes, std::runtime_error if OpenSSL fails.
    [[nodiscard]] std::string encrypt(std::string_view message, std::string_view random16 = {}) const;

    // msg_signature over (token, timestamp, nonce, encrypt), compared in constant time.
    [[nodiscard]] bool verify(std::string_view msg_signature, std::string_view timestamp, std::string_view nonce,
                              std::string_view encrypt) const;
    [[nodiscard]] std::string sign(std::string_view timestamp, std::string_view nonce, std::string_view encrypt) const;

    // encrypt() + sign() + build_encrypted_reply(): the passive-reply body for `message`.
    [[nodiscard]] std::string encrypted_reply(std::string_view message, std::string_view timestamp,
                                              std::string_view nonce, std::string_view random16 = {}) const;

    [[nodiscard]] const std::string& receive_id() const { return receive_id_; }

private:
    static constexpr std::size_t kKeySize = 32;

    MessageCrypto(std::string token, const std::array<unsigned char, kKeySize>& key, std::string receive_id)
        : token_(std::move(token)), key_(key), receive_id_(std::move(receive_id)) {}

    std::string token_;
    std::array<unsigned char, kKeySize> key_;
    std::string receive_id_;
};

// <xml><Encrypt><![CDATA[...]]></Encrypt><MsgSignature><![CDATA[...]]></MsgSignature>
// <TimeStamp>...</TimeStamp><Nonce><![CDATA[...]]></Nonce></xml> (on one line).
std::string build_encrypted_reply(std::string_view encrypt, std::string_view signature, std::string_view timestamp,
                                  std::string_view nonce);

}  // namespace leadhatch::adapters::wechat
