#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/messaging/templates.hpp"

namespace leadhatch::core {

// Reading the template files (funnel.json, scoring.json, segments.json).

// Collects the problems found in one configuration file (templates/funnel.json, scoring.json, ...);
// paths are JSON paths ("rules[2].keywords"), prefixed with the file.
class ConfigProblems {
public:
    ConfigProblems(std::string source, std::vector<TemplateProblem>& out);

    void add(const std::string& path, std::string message);
    std::size_t count() const { return out_.size() - start_; }
    // The first problem as an Error, with how many more there are.
    Error error() const;

private:
    std::string source_;
    std::vector<TemplateProblem>& out_;
    std::size_t start_;
};

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string json_error_text(const nlohmann::json::exception& e);

// JSON paths: join("rules", "id") = "rules.id", index("rules", 2) = "rules[2]".
std::string path_join(const std::string& path, std::string_view key);
std::string path_index(const std::string& path, std::size_t i);

// Readers for the template files. Each reports what is wrong at its JSON path and returns
// nullopt (or false); a missing optional key is nullopt without a problem.

// "a, b, c"
template <class Keys>
std::string list_keys(const Keys& keys) {
    std::string out;
    for (std::string_view k : keys) {
        if (!out.empty()) out += ", ";
        out += k;
    }
    return out;
}

// Parses `text` into `doc`, which must be an object (`what` says with what, for the message).
bool parse_document(std::string_view text, nlohmann::json& doc, ConfigProblems& p, std::string_view what);
// Reports keys outside `allowed`; false when there were any.
bool check_keys(const nlohmann::json& obj, const std::string& path, std::initializer_list<std::string_view> allowed,
                ConfigProblems& p);
std::optional<std::string> read_string(const nlohmann::json& obj, const std::string& path, std::string_view key,
                                       bool required, bool allow_empty, ConfigProblems& p);
std::optional<bool> read_bool(const nlohmann::json& obj, const std::string& path, std::string_view key,
                              ConfigProblems& p);
std::optional<std::int64_t> read_int(const nlohmann::json& obj, const std::string& path, std::string_view key,
                                     bool required, std::int64_t min, std::int64_t max, ConfigProblems& p);
std::optional<double> read_number(const nlohmann::json& obj, const std::string& path, std::string_view key,
                                  double min, double max, ConfigProblems& p);
// A non-empty array of non-empty strings.
std::optional<std::vector<std::string>> read_strings(const nlohmann::json& obj, const std::string& path,
                                                     std::string_view key, bool required, ConfigProblems& p);

}  // namespace leadhatch::core
