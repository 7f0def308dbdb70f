#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/messaging/templates.hpp"

namespace leadhatch::core {

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

}  // namespace leadhatch::core
