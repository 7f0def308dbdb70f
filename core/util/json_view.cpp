#include "core/util/json_view.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <system_error>
#include <utility>

namespace leadhatch::core {
namespace {

using json_detail::Node;

constexpr std::uint32_t kNoParent = std::numeric_limits<std::uint32_t>::max();

static_assert(sizeof(Node) == 12, "one node per value: keep it small");

// Bytes a string may contain as they are: printable ASCII except '"' and '\\'.
constexpr std::array<bool, 256> kPlainStringByte = [] {
    std::array<bool, 256> t{};
    for (std::size_t c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
    return t;
}();

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr unsigned char byte(char c) { return static_cast<unsigned char>(c); }

// Whether a grammatically valid JSON number (a slice of the input) has a finite value as a double,
// i.e. whether nlohmann::json accepts it. Integers that fit 64 bits never go through a double there.
bool number_in_range(std::string_view num, bool integer) {
    const char* first = num.data();
    const char* last = num.data() + num.size();
    if (integer) {
        if (num.front() == '-') {
            std::int64_t v = 0;
            if (std::from_chars(first, last, v).ec == std::errc{}) return true;
        } else {
            std::uint64_t v = 0;
            if (std::from_chars(first, last, v).ec == std::errc{}) return true;
        }
    }
    double d = 0;
    const auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec != std::errc::result_out_of_range) return ec == std::errc{} && ptr == last;
    // Out of range: too large (rejected) or too small (reads as zero, accepted). The value is
    // 0.d1d2... * 10^e with d1 the first non-zero digit; it overflowed exactly when e > 0.
    std::size_t i = num.front() == '-' ? 1 : 0;
    std::int64_t e = 0;
    if (num[i] != '0') {
        while (i < num.size() && is_digit(num[i])) {
            ++e;
            ++i;
        }
    } else {
        ++i;
        if (i < num.size() && num[i] == '.') ++i;
        while (i < num.size() && num[i] == '0') {
            --e;
            ++i;
        }
        if (i == num.size() || !is_digit(num[i])) return true;  // all zeros: the value is 0
    }
    while (i < num.size() && num[i] != 'e' && num[i] != 'E') ++i;
    if (i < num.size()) {
        ++i;
        const bool negative = num[i] == '-';
        if (num[i] == '-' || num[i] == '+') ++i;
        std::int64_t x = 0;
        constexpr std::int64_t kCap = 1'000'000'000'000;  // far beyond any double, far from overflow
        for (; i < num.size(); ++i) x = std::min(kCap, x * 10 + (num[i] - '0'));
        e += negative ? -x : x;
    }
    return e <= 0;
}

// Length of the valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0 (RFC 3629 table 4:
// no overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const unsigned lead = byte(s[i]);
    const auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
        return i + k < s.size() && byte(s[i + k]) >= lo && byte(s[i + k]) <= hi;
    };
    if (lead < 0xC2) return 0;
    if (lead < 0xE0) return in(1, 0x80, 0xBF) ? 2 : 0;
    if (lead < 0xF0) {
        const unsigned lo = lead == 0xE0 ? 0xA0 : 0x80;
        const unsigned hi = lead == 0xED ? 0x9F : 0xBF;
        return in(1, lo, hi) && in(2, 0x80, 0xBF) ? 3 : 0;
    }
    if (lead < 0xF5) {
        const unsigned lo = lead == 0xF0 ? 0x90 : 0x80;
        const unsigned hi = lead == 0xF4 ? 0x8F : 0xBF;
        return in(1, lo, hi) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    }
    return 0;
}

// Four hex digits at s[i..i+4), or nullopt.
std::optional<std::uint32_t> hex4(std::string_view s, std::size_t i) {
    if (s.size() - i < 4) return std::nullopt;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
        const char c = s[i + k];
        std::uint32_t d = 0;
        if (c >= '0' && c <= '9') {
            d = static_cast<std::uint32_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = static_cast<std::uint32_t>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = static_cast<std::uint32_t>(c - 'A' + 10);
        } else {
            return std::nullopt;
        }
        v = v * 16 + d;
    }
    return v;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    const auto put = [&](std::uint32_t b) { out.push_back(static_cast<char>(b)); };
    if (cp < 0x80) {
        put(cp);
    } else if (cp < 0x800) {
        put(0xC0 | (cp >> 6));
        put(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        put(0xE0 | (cp >> 12));
        put(0x80 | ((cp >> 6) & 0x3F));
        put(0x80 | (cp & 0x3F));
    } else {
        put(0xF0 | (cp >> 18));
        put(0x80 | ((cp >> 12) & 0x3F));
        put(0x80 | ((cp >> 6) & 0x3F));
        put(0x80 | (cp & 0x3F));
    }
}

// One pass over the input, no recursion: the open containers form a chain through their nodes
// (offset_or_end holds the parent's index until the container closes).
class Parser {
public:
    Parser(std::string_view text, int max_depth, std::vector<Node>& nodes, std::string& arena)
        : text_(text), max_depth_(max_depth), nodes_(nodes), arena_(arena) {}

    // True when the whole input is one JSON value; otherwise error() says why.
    bool run() {
        skip_whitespace();
        for (;;) {
            // A value starts at pos_.
            if (pos_ == text_.size()) return fail(JsonErrc::kUnexpectedEnd);
            const char c = text_[pos_];
            switch (c) {
                case '{':
                case '[': {
                    if (depth_ >= max_depth_) return fail(JsonErrc::kTooDeep);
                    ++depth_;
                    const bool object = c == '{';
                    nodes_.push_back(Node{open_, 0, object ? JsonKind::kObject : JsonKind::kArray, 0});
                    open_ = static_cast<std::uint32_t>(nodes_.size() - 1);
                    ++pos_;
                    skip_whitespace();
                    if (pos_ < text_.size() && text_[pos_] == (object ? '}' : ']')) {
                        ++pos_;
                        close();
                        break;  // an empty container: a complete value
                    }
                    if (object && !member_key()) return false;
                    continue;  // the first element / member value
                }
                case '"':
                    if (!parse_string()) return false;
                    break;
                case 't':
                    if (!parse_literal("true", JsonKind::kBool, json_detail::kTrue)) return false;
                    break;
                case 'f':
                    if (!parse_literal("false", JsonKind::kBool, 0)) return false;
                    break;
                case 'n':
                    if (!parse_literal("null", JsonKind::kNull, 0)) return false;
                    break;
                default:
                    if (c != '-' && !is_digit(c)) return fail(JsonErrc::kUnexpectedChar);
                    if (!parse_number()) return false;
                    break;
            }
            // A value is complete: count it in its container, then find what comes next.
            if (!after_value()) return false;
            if (open_ == kNoParent) return true;
        }
    }

    const JsonParseError& error() const { return error_; }

private:
    // Records the error; returns false so that failing paths can `return fail(...)`.
    bool fail(JsonErrc code) { return fail_at(code, pos_); }
    bool fail_at(JsonErrc code, std::size_t offset) {
        error_ = JsonParseError{code, offset};
        return false;
    }

    void skip_whitespace() {
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
            ++pos_;
        }
    }

    void close() {
        Node& n = nodes_[open_];
        const std::uint32_t parent = n.offset_or_end;
        n.offset_or_end = static_cast<std::uint32_t>(nodes_.size());
        open_ = parent;
        --depth_;
    }

    // After a complete value: closes finished containers; returns true with pos_ at the next value
    // (or at the end of the input when the top-level value is done).
    bool after_value() {
        for (;;) {
            if (open_ == kNoParent) {
                skip_whitespace();
                if (pos_ != text_.size()) return fail(JsonErrc::kTrailingData);
                return true;
            }
            Node& parent = nodes_[open_];
            ++parent.length_or_count;
            const bool object = parent.kind == JsonKind::kObject;
            skip_whitespace();
            if (pos_ == text_.size()) return fail(JsonErrc::kUnexpectedEnd);
            const char c = text_[pos_];
            if (c == ',') {
                ++pos_;
                skip_whitespace();
                return !object || member_key();
            }
            if (c != (object ? '}' : ']')) return fail(JsonErrc::kUnexpectedChar);
            ++pos_;
            close();
        }
    }

    // "key" ':' with the whitespace around; leaves pos_ at the member value.
    bool member_key() {
        if (pos_ == text_.size()) return fail(JsonErrc::kUnexpectedEnd);
        if (text_[pos_] != '"') return fail(JsonErrc::kUnexpectedChar);
        if (!parse_string()) return false;
        skip_whitespace();
        if (pos_ == text_.size()) return fail(JsonErrc::kUnexpectedEnd);
        if (text_[pos_] != ':') return fail(JsonErrc::kUnexpectedChar);
        ++pos_;
        skip_whitespace();
        return true;
    }

    bool parse_literal(std::string_view word, JsonKind kind, std::uint8_t flags) {
        if (text_.substr(pos_, word.size()) != word) {
            return fail(text_.size() - pos_ < word.size() && word.starts_with(text_.substr(pos_))
                            ? JsonErrc::kUnexpectedEnd
                            : JsonErrc::kInvalidLiteral);
        }
        nodes_.push_back(Node{static_cast<std::uint32_t>(pos_), static_cast<std::uint32_t>(word.size()), kind, flags});
        pos_ += word.size();
        return true;
    }

    bool parse_number() {
        const std::size_t start = pos_;
        const auto digits = [&] {
            const std::size_t from = pos_;
            while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
            return pos_ - from;
        };
        if (text_[pos_] == '-') ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '0') {
            ++pos_;  // a leading zero stands alone: "01" ends after the 0 and fails as trailing data
        } else if (digits() == 0) {
            return fail(pos_ == text_.size() ? JsonErrc::kUnexpectedEnd : JsonErrc::kInvalidNumber);
        }
        const std::size_t int_digits = pos_ - start - (text_[start] == '-' ? 1 : 0);
        bool integer = true;
        if (pos_ < text_.size() && text_[pos_] == '.') {
            integer = false;
            ++pos_;
            if (digits() == 0) {
                return fail(pos_ == text_.size() ? JsonErrc::kUnexpectedEnd : JsonErrc::kInvalidNumber);
            }
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            integer = false;
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
            if (digits() == 0) {
                return fail(pos_ == text_.size() ? JsonErrc::kUnexpectedEnd : JsonErrc::kInvalidNumber);
            }
        }
        const std::string_view num = text_.substr(start, pos_ - start);
        // Up to 18 digits always fit an int64; anything else may overflow a double.
        if ((!integer || int_digits > 18) && !number_in_range(num, integer)) {
            return fail_at(JsonErrc::kNumberOutOfRange, start);
        }
        nodes_.push_back(Node{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(num.size()),
                              JsonKind::kNumber, integer ? json_detail::kInteger : std::uint8_t{0}});
        return true;
    }

    // A string (value or key) starting at the '"' at pos_.
    bool parse_string() {
        const std::size_t start = ++pos_;
        for (;;) {
            while (pos_ < text_.size() && kPlainStringByte[byte(text_[pos_])]) ++pos_;
            if (pos_ == text_.size()) return fail(JsonErrc::kUnexpectedEnd);
            const char c = text_[pos_];
            if (c == '"') {
                nodes_.push_back(Node{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(pos_ - start),
                                      JsonKind::kString, 0});
                ++pos_;
                return true;
            }
            if (c == '\\') return escaped_string(start);
            if (!non_ascii_or_control()) return false;
        }
    }

    // Continues a string that has escapes: decodes it into the arena.
    bool escaped_string(std::size_t start) {
        // Decoded text is never longer than its source, so this is the last allocation.
        arena_.reserve(arena_.size() + (text_.size() - start));
        const std::size_t out = arena_.size();
        arena_.append(text_.substr(start, pos_ - start));
        for (;;) {
            const std::size_t run = pos_;
            while (pos_ < text_.size() && kPlainStringByte[byte(text_[pos_])]) ++pos_;
            arena_.append(text_.substr(run, pos_ - run));
            if (pos_ == text_.size()) return fail(JsonErrc::kUnexpectedEnd);
            const char c = text_[pos_];
            if (c == '"') {
                nodes_.push_back(Node{static_cast<std::uint32_t>(out), static_cast<std::uint32_t>(arena_.size() - out),
                                      JsonKind::kString, json_detail::kInArena});
                ++pos_;
                return true;
            }
            if (c == '\\') {
                if (!escape()) return false;
                continue;
            }
            const std::size_t from = pos_;
            if (!non_ascii_or_control()) return false;
            arena_.append(text_.substr(from, pos_ - from));
        }
    }

    // Validates the control character or UTF-8 sequence at pos_ and steps over it.
    bool non_ascii_or_control() {
        if (byte(text_[pos_]) < 0x20) return fail(JsonErrc::kControlCharacter);
        const std::size_t n = utf8_sequence_length(text_, pos_);
        if (n == 0) return fail(JsonErrc::kInvalidUtf8);
        pos_ += n;
        return true;
    }

    // Decodes the escape at pos_ (a backslash) into the arena.
    bool escape() {
        if (pos_ + 1 == text_.size()) return fail(JsonErrc::kUnexpectedEnd);
        char decoded = 0;
        switch (text_[pos_ + 1]) {
            case '"':
                decoded = '"';
                break;
            case '\\':
                decoded = '\\';
                break;
            case '/':
                decoded = '/';
                break;
            case 'b':
                decoded = '\b';
                break;
            case 'f':
                decoded = '\f';
                break;
            case 'n':
                decoded = '\n';
                break;
            case 'r':
                decoded = '\r';
                break;
            case 't':
                decoded = '\t';
                break;
            case 'u':
                return unicode_escape();
            default:
                return fail(JsonErrc::kInvalidEscape);
        }
        arena_.push_back(decoded);
        pos_ += 2;
        return true;
    }

    // \uXXXX, or a \uD8xx\uDCxx surrogate pair, at pos_.
    bool unicode_escape() {
        auto cp = hex4(text_, pos_ + 2);
        if (!cp) return fail(JsonErrc::kInvalidEscape);
        if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail(JsonErrc::kInvalidSurrogate);
        if (*cp >= 0xD800 && *cp <= 0xDBFF) {
            const std::size_t low_at = pos_ + 6;
            if (text_.substr(low_at, 2) != "\\u") return fail_at(JsonErrc::kInvalidSurrogate, low_at);
            const auto low = hex4(text_, low_at + 2);
            if (!low) return fail_at(JsonErrc::kInvalidEscape, low_at);
            if (*low < 0xDC00 || *low > 0xDFFF) return fail_at(JsonErrc::kInvalidSurrogate, low_at);
            cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
            pos_ += 6;
        }
        append_utf8(arena_, *cp);
        pos_ += 6;
        return true;
    }

    std::string_view text_;
    int max_depth_;
    std::vector<Node>& nodes_;
    std::string& arena_;
    std::size_t pos_ = 0;
    int depth_ = 0;
    std::uint32_t open_ = kNoParent;  // innermost open container
    JsonParseError error_;
};

}  // namespace

std::string_view JsonParseError::what() const noexcept {
    switch (code) {
        case JsonErrc::kUnexpectedEnd:
            return "unexpected end of input";
        case JsonErrc::kUnexpectedChar:
            return "unexpected character";
        case JsonErrc::kInvalidLiteral:
            return "invalid literal";
        case JsonErrc::kInvalidNumber:
            return "invalid number";
        case JsonErrc::kNumberOutOfRange:
            return "number out of range";
        case JsonErrc::kControlCharacter:
            return "unescaped control character in string";
        case JsonErrc::kInvalidEscape:
            return "invalid escape in string";
        case JsonErrc::kInvalidSurrogate:
            return "unpaired UTF-16 surrogate in string";
        case JsonErrc::kInvalidUtf8:
            return "invalid UTF-8 in string";
        case JsonErrc::kTooDeep:
            return "nesting too deep";
        case JsonErrc::kTrailingData:
            return "data after the JSON value";
        case JsonErrc::kByteOrderMark:
            return "byte order mark";
        case JsonErrc::kTooLarge:
            return "input too large";
    }
    return "invalid JSON";
}

std::string JsonParseError::message() const {
    std::string m(what());
    m += " at byte ";
    m += std::to_string(offset);
    return m;
}

std::variant<JsonDoc, JsonParseError> JsonDoc::parse(std::string_view text, int max_depth) {
    if (text.size() >= std::numeric_limits<std::uint32_t>::max()) return JsonParseError{JsonErrc::kTooLarge, 0};
    if (text.starts_with("\xEF\xBB\xBF")) return JsonParseError{JsonErrc::kByteOrderMark, 0};
    JsonDoc doc;
    doc.text_ = text;
    // Compact JSON averages well over 6 bytes per node (a key and its value are two); more nodes than
    // that only cost a reallocation.
    doc.nodes_.reserve(text.size() / 6 + 16);
    Parser parser(text, max_depth, doc.nodes_, doc.arena_);
    if (!parser.run()) return parser.error();
    return doc;
}

std::optional<std::int64_t> JsonRef::as_int64() const noexcept {
    if (!is_integer()) return std::nullopt;
    const std::string_view t = doc_->text_of(node());
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || ptr != t.data() + t.size()) return std::nullopt;
    return v;
}

std::optional<double> JsonRef::as_double() const noexcept {
    if (!is_number()) return std::nullopt;
    const std::string_view t = doc_->text_of(node());
    double v = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    // parse() lets only underflow through: the value rounds to zero.
    if (ec == std::errc::result_out_of_range) return t.front() == '-' ? -0.0 : 0.0;
    if (ec != std::errc{}) return std::nullopt;
    return v;
}

JsonRef JsonRef::find(std::string_view key) const noexcept {
    if (!is_object()) return {};
    const std::uint32_t end = node().offset_or_end;
    std::uint32_t found = kNoParent;
    for (std::uint32_t i = index_ + 1; i < end; i = doc_->skip(i + 1)) {
        const Node& k = doc_->node(i);
        if (k.length_or_count != key.size()) continue;
        const std::string_view text = doc_->text_of(k);
        // Most keys differ in their first byte: skip the memcmp call for those.
        if (!key.empty() && text.front() != key.front()) continue;
        if (text == key) found = i + 1;
    }
    return found == kNoParent ? JsonRef() : JsonRef(doc_, found);
}

JsonRef JsonRef::operator[](std::size_t index) const noexcept {
    if (!is_array() || index >= node().length_or_count) return {};
    std::uint32_t i = index_ + 1;
    for (std::size_t k = 0; k < index; ++k) i = doc_->skip(i);
    return {doc_, i};
}

}  // namespace leadhatch::core
