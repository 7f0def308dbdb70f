#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace leadhatch::core {

// Appends a compact JSON object to a string without building a DOM: used on the hot inbound
// path for event data. Strings are escaped; invalid UTF-8 bytes are replaced with U+FFFD.
class JsonWriter {
public:
    JsonWriter() { out_ += '{'; }
    JsonWriter& field(std::string_view key, std::string_view value);
    JsonWriter& field_if(std::string_view key, std::string_view value) {
        return value.empty() ? *this : field(key, value);
    }
    JsonWriter& field(std::string_view key, std::int64_t value);
    JsonWriter& field(std::string_view key, bool value);
    JsonWriter& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
    JsonWriter& raw_field(std::string_view key, std::string_view json);  // json must be valid
    std::string finish() {
        out_ += '}';
        return std::move(out_);
    }

    static void append_escaped(std::string& out, std::string_view s);

private:
    void key(std::string_view k);
    std::string out_;
    bool first_ = true;
};

// Cuts s to at most max_bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view s, std::size_t max_bytes);

}  // namespace leadhatch::core
