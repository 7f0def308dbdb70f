#include <charconv>

#include "core/storage/storage.hpp"

namespace leadhatch::core {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
    std::string out;
    std::uint32_t buf = 0;
    int bits = 0;
    for (unsigned char c : in) {
        buf = (buf << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(buf >> bits) & 63];
        }
    }
    if (bits > 0) out += kAlphabet[(buf << (6 - bits)) & 63];
    return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
    std::string out;
    std::uint32_t buf = 0;
    int bits = 0;
    for (char c : in) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '-') v = 62;
        else if (c == '_') v = 63;
        if (v < 0) return std::nullopt;
        buf = (buf << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buf >> bits) & 0xff);
        }
    }
    return out;
}

}  // namespace

std::string LeadCursor::encode() const {
    return base64url("c" + std::to_string(to_epoch_ms(created_at)) + "." + std::to_string(id.value));
}

std::optional<LeadCursor> LeadCursor::decode(std::string_view text) {
    if (text.empty() || text.size() > 64) return std::nullopt;
    auto raw = unbase64url(text);
    if (!raw || raw->size() < 4 || (*raw)[0] != 'c') return std::nullopt;
    const auto dot = raw->find('.');
    if (dot == std::string::npos) return std::nullopt;
    std::int64_t ms = 0;
    std::int64_t id = 0;
    const char* b = raw->data();
    auto r1 = std::from_chars(b + 1, b + dot, ms);
    auto r2 = std::from_chars(b + dot + 1, b + raw->size(), id);
    if (r1.ec != std::errc{} || r1.ptr != b + dot || r2.ec != std::errc{} || r2.ptr != b + raw->size() || id <= 0) {
        return std::nullopt;
    }
    LeadCursor cursor{from_epoch_ms(ms), LeadId{id}};
    // One text per cursor: trailing bits, leading zeros or a '+' would otherwise decode as well.
    if (cursor.encode() != text) return std::nullopt;
    return cursor;
}

}  // namespace leadhatch::core
