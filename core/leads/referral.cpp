#include "core/leads/referral.hpp"

#include <cstdint>

namespace leadhatch::core {
namespace {

constexpr std::uint64_t kBits = 40;
constexpr std::uint64_t kMask = (std::uint64_t{1} << kBits) - 1;
constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL & kMask;  // odd, so invertible mod 2^40
constexpr std::uint64_t kXor = 0x5A5A3C3C96ULL & kMask;
constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

constexpr std::uint64_t inverse(std::uint64_t a) {
    std::uint64_t x = a;  // Newton's iteration for the inverse modulo 2^64
    for (int i = 0; i < 6; ++i) x *= 2 - a * x;
    return x & kMask;
}
constexpr std::uint64_t kInv = inverse(kMul);
static_assert(((kMul * kInv) & kMask) == 1);

int digit(char c) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == 'o') c = '0';
    if (c == 'i' || c == 'l') c = '1';
    for (int i = 0; i < 32; ++i) {
        if (kAlphabet[i] == c) return i;
    }
    return -1;
}

}  // namespace

std::string referral_code(LeadId id) {
    std::uint64_t v = ((static_cast<std::uint64_t>(id.value) * kMul) & kMask) ^ kXor;
    std::string out(8, '0');
    for (int i = 7; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = kAlphabet[v & 31];
        v >>= 5;
    }
    return out;
}

std::optional<LeadId> parse_referral_code(std::string_view code) {
    if (code.size() != 8) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : code) {
        const int d = digit(c);
        if (d < 0) return std::nullopt;
        v = (v << 5) | static_cast<std::uint64_t>(d);
    }
    const std::uint64_t id = (((v ^ kXor) & kMask) * kInv) & kMask;
    if (id == 0) return std::nullopt;
    return LeadId{static_cast<std::int64_t>(id)};
}

}  // namespace leadhatch::core
