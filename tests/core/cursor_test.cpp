// LeadCursor: the opaque keyset position of the admin API's lead list.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/storage/storage.hpp"

namespace leadhatch::core {
namespace {

// An independent base64url (no padding) encoder, to build well-formed cursors with bad contents.
std::string b64url(std::string_view in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (in.size() - i == 1) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
    } else if (in.size() - i == 2) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
    }
    return out;
}

TEST(LeadCursor, RoundTrips_ForTypicalAndExtremeValues) {
    const std::pair<std::int64_t, std::int64_t> cases[] = {
        {1'700'000'000'123, 1},
        {0, 42},
        {1'767'225'600'000, 9'007'199'254'740'993},
        {-86'400'000, 7},  // before 1970
        {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()},
        {std::numeric_limits<std::int64_t>::min(), 1},
    };
    for (const auto& [ms, id] : cases) {
        const LeadCursor c{from_epoch_ms(ms), LeadId{id}};
        const auto text = c.encode();
        const auto back = LeadCursor::decode(text);
        ASSERT_TRUE(back.has_value()) << text;
        EXPECT_EQ(to_epoch_ms(back->created_at), ms);
        EXPECT_EQ(back->id, LeadId{id});
    }
}

TEST(LeadCursor, EncodesUrlSafeText_WithoutPadding) {
    const LeadCursor c{from_epoch_ms(1'700'000'000'123), LeadId{123'456'789}};
    const auto text = c.encode();
    EXPECT_LE(text.size(), 64u);
    for (char ch : text) {
        const bool ok =
            (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        EXPECT_TRUE(ok) << "'" << ch << "' in " << text;
    }
    // It is the base64url of "c<ms>.<id>" (the decoder's format).
    EXPECT_EQ(text, b64url("c1700000000123.123456789"));
}

TEST(LeadCursor, RejectsText_WhenNotBase64Url) {
    for (std::string_view bad : {"", "!!!!", "abc+def/", "YWJj=", "a b", "\xC3\xA9"}) {
        EXPECT_FALSE(LeadCursor::decode(bad).has_value()) << bad;
    }
    EXPECT_FALSE(LeadCursor::decode(std::string(65, 'A')).has_value());
}

TEST(LeadCursor, RejectsText_WhenContentsAreNotACursor) {
    for (std::string_view raw : {"x123.4",                   // wrong tag
                                 "c123",                     // no id
                                 "c.4",                      // no time
                                 "c12a.4",                   // not a number
                                 "c1.0",                     // id 0
                                 "c1.-5",                    // negative id
                                 "c1.5x",                    // trailing garbage
                                 "c1.5.6",                   // two dots
                                 "c 1.5",                    // space
                                 "c1.99999999999999999999",  // id out of range
                                 "c99999999999999999999.1",  // time out of range
                                 "c1.",                      // empty id
                                 "c"}) {
        EXPECT_FALSE(LeadCursor::decode(b64url(raw)).has_value()) << raw;
    }
}

TEST(LeadCursor, RejectsText_WhenNotTheCanonicalSpelling) {
    const std::string good = LeadCursor{from_epoch_ms(1000), LeadId{77}}.encode();
    ASSERT_TRUE(LeadCursor::decode(good).has_value());
    // The same bytes with the unused low bits of the last character set.
    std::string noisy = good;
    noisy.back() = static_cast<char>(noisy.back() == 'A' ? 'B' : noisy.back() + 1);
    EXPECT_FALSE(LeadCursor::decode(noisy).has_value()) << noisy;
    // A character that adds no whole byte, and numbers spelled otherwise.
    EXPECT_FALSE(LeadCursor::decode(good + "A").has_value());
    for (std::string_view raw : {"c01000.77", "c1000.077", "c+1000.77"}) {
        EXPECT_FALSE(LeadCursor::decode(b64url(raw)).has_value()) << raw;
    }
}

TEST(LeadCursor, DecodesHandMadeCursor_WhenWellFormed) {
    const auto c = LeadCursor::decode(b64url("c1000.77"));
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(to_epoch_ms(c->created_at), 1000);
    EXPECT_EQ(c->id, LeadId{77});
}

}  // namespace
}  // namespace leadhatch::core
