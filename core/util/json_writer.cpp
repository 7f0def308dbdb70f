#include "core/util/json_writer.hpp"

namespace leadhatch::core {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t utf8_len(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0 && c >= 0xC2) n = 2;
    else if ((c & 0xF0) == 0xE0) n = 3;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4) n = 4;
    else return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    }
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (n == 3 && ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))) return 0;  // overlong, surrogates
    if (n == 4 && ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))) return 0;
    return n;
}

}  // namespace

void JsonWriter::append_escaped(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        // The longest run that goes out as it is (printable ASCII other than '"' and '\\', and
        // whole valid UTF-8 sequences), appended at once.
        std::size_t j = i;
        while (j < s.size()) {
            const auto u = static_cast<unsigned char>(s[j]);
            if (u >= 0x80) {
                const std::size_t n = utf8_len(s, j);
                if (n == 0) break;
                j += n;
            } else if (u < 0x20 || u == '"' || u == '\\') {
                break;
            } else {
                ++j;
            }
        }
        out.append(s.data() + i, j - i);
        i = j;
        if (i == s.size()) break;
        const auto uc = static_cast<unsigned char>(s[i]);
        ++i;
        switch (uc) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (uc >= 0x80) {
                    out += "\xEF\xBF\xBD";  // not valid UTF-8
                } else {
                    out += "\\u00";
                    out += kHex[uc >> 4];
                    out += kHex[uc & 0xf];
                }
        }
    }
    out += '"';
}

void JsonWriter::key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    append_escaped(out_, k);
    out_ += ':';
}

JsonWriter& JsonWriter::field(std::string_view k, std::string_view value) {
    key(k);
    append_escaped(out_, value);
    return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, std::int64_t value) {
    key(k);
    out_ += std::to_string(value);
    return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, bool value) {
    key(k);
    out_ += value ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::raw_field(std::string_view k, std::string_view json) {
    key(k);
    out_ += json;
    return *this;
}

std::string truncate_utf8(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return std::string(s);
    std::size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    return std::string(s.substr(0, end));
}

}  // namespace leadhatch::core
