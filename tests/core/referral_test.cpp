// Referral codes: 8 characters of Crockford base32, a bijection on 40-bit lead ids.
#include "core/leads/referral.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace leadhatch::core {
namespace {

constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::int64_t kLimit = std::int64_t{1} << 40;

std::vector<std::int64_t> sample_ids() {
    std::vector<std::int64_t> ids;
    for (std::int64_t id = 1; id <= 20'000; ++id) ids.push_back(id);
    for (std::int64_t id = 20'001; id <= 1'000'000; id += 97) ids.push_back(id);
    ids.push_back(1'000'000);
    // Large ids up to 2^40 - 1, spread over the range.
    for (std::int64_t id = kLimit - 1; id > 1'000'000; id = id / 3 * 2 + 1) ids.push_back(id);
    for (std::int64_t k = 20; k < 40; ++k) {
        ids.push_back(std::int64_t{1} << k);
        ids.push_back((std::int64_t{1} << k) - 1);
        ids.push_back((std::int64_t{1} << k) + 1);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

TEST(ReferralCode, RoundTrips_ForIdsUpTo2Pow40) {
    for (const auto id : sample_ids()) {
        const auto code = referral_code(LeadId{id});
        const auto back = parse_referral_code(code);
        ASSERT_TRUE(back.has_value()) << "id " << id << " code " << code;
        ASSERT_EQ(back->value, id) << "code " << code;
    }
}

TEST(ReferralCode, IsEightCharsOfTheDocumentedAlphabet_ForEveryId) {
    for (const auto id : sample_ids()) {
        const auto code = referral_code(LeadId{id});
        ASSERT_EQ(code.size(), 8u) << id;
        for (char c : code) ASSERT_NE(kAlphabet.find(c), std::string_view::npos) << "'" << c << "' in " << code;
    }
}

TEST(ReferralCode, IsDistinct_ForDistinctIds) {
    std::unordered_set<std::string> seen;
    const auto ids = sample_ids();
    for (const auto id : ids) seen.insert(referral_code(LeadId{id}));
    EXPECT_EQ(seen.size(), ids.size());
}

TEST(ReferralCode, DoesNotLookSequential_ForConsecutiveIds) {
    // Neighbouring ids differ in more than the last character or two.
    for (std::int64_t id = 1; id < 1000; ++id) {
        const auto a = referral_code(LeadId{id});
        const auto b = referral_code(LeadId{id + 1});
        EXPECT_NE(a.substr(0, 5), b.substr(0, 5)) << id << ": " << a << " / " << b;
    }
}

TEST(ReferralCode, ParsesUpperCase_SameAsLowerCase) {
    const std::int64_t ids[] = {1, 42, 123'456, 999'999'999, kLimit - 1};
    for (const std::int64_t id : ids) {
        const auto code = referral_code(LeadId{id});
        const auto parsed = parse_referral_code(upper(code));
        ASSERT_TRUE(parsed.has_value()) << upper(code);
        EXPECT_EQ(parsed->value, id);
        // Mixed case as well.
        std::string mixed = code;
        for (std::size_t i = 0; i < mixed.size(); i += 2) {
            mixed[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[i])));
        }
        EXPECT_EQ(parse_referral_code(mixed), std::optional<LeadId>(LeadId{id})) << mixed;
    }
}

TEST(ReferralCode, ReadsIAndLAsOneAndOAsZero_WhenTypedByHand) {
    // Find ids whose codes contain a '1' and a '0', so that the aliases matter.
    std::optional<std::int64_t> with_one, with_zero;
    for (std::int64_t id = 1; id < 100'000 && (!with_one || !with_zero); ++id) {
        const auto code = referral_code(LeadId{id});
        if (!with_one && code.find('1') != std::string::npos) with_one = id;
        if (!with_zero && code.find('0') != std::string::npos) with_zero = id;
    }
    ASSERT_TRUE(with_one && with_zero);

    const auto one = referral_code(LeadId{*with_one});
    for (char alias : {'i', 'I', 'l', 'L'}) {
        std::string typed = one;
        std::replace(typed.begin(), typed.end(), '1', alias);
        EXPECT_EQ(parse_referral_code(typed), std::optional<LeadId>(LeadId{*with_one})) << typed;
    }
    const auto zero = referral_code(LeadId{*with_zero});
    for (char alias : {'o', 'O'}) {
        std::string typed = zero;
        std::replace(typed.begin(), typed.end(), '0', alias);
        EXPECT_EQ(parse_referral_code(typed), std::optional<LeadId>(LeadId{*with_zero})) << typed;
    }
}

TEST(ReferralCode, RejectsCode_WhenLengthIsWrong) {
    const auto code = referral_code(LeadId{12345});
    EXPECT_FALSE(parse_referral_code(""));
    EXPECT_FALSE(parse_referral_code(code.substr(0, 7)));
    EXPECT_FALSE(parse_referral_code(code + "0"));
    EXPECT_FALSE(parse_referral_code(code + code));
}

TEST(ReferralCode, RejectsCode_WhenCharactersAreOutsideTheAlphabet) {
    const auto code = referral_code(LeadId{12345});
    for (char bad : {'u', 'U', '-', '_', ' ', '!', '.', '\0', '\x80'}) {
        std::string typed = code;
        typed[3] = bad;
        EXPECT_FALSE(parse_referral_code(typed)) << "char code " << static_cast<int>(bad);
    }
    EXPECT_FALSE(parse_referral_code("价格价"));  // 9 bytes of UTF-8
    EXPECT_FALSE(
        parse_referral_code("\xE4\xBB\xB7\xE6\xA0\xBC"
                            "00"));  // 8 bytes, not base32
}

TEST(ReferralCode, RejectsCode_WhenItDecodesToIdZero) {
    const auto zero_code = referral_code(LeadId{0});
    ASSERT_EQ(zero_code.size(), 8u);
    EXPECT_FALSE(parse_referral_code(zero_code));
    EXPECT_FALSE(parse_referral_code(upper(zero_code)));
}

}  // namespace
}  // namespace leadhatch::core
