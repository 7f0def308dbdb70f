#include "core/util/config_problems.hpp"

#include <utility>

namespace leadhatch::core {

ConfigProblems::ConfigProblems(std::string source, std::vector<TemplateProblem>& out)
    : source_(std::move(source)), out_(out), start_(out.size()) {}

void ConfigProblems::add(const std::string& path, std::string message) {
    out_.push_back({path.empty() ? source_ : source_ + ": " + path, std::move(message)});
}

Error ConfigProblems::error() const {
    const auto& first = out_[start_];
    std::string message = first.path + ": " + first.message;
    if (count() > 1) message += " (and " + std::to_string(count() - 1) + " more)";
    return Error{"invalid_config", std::move(message), source_};
}

std::string json_error_text(const nlohmann::json::exception& e) {
    std::string_view what = e.what();
    if (auto end = what.find("] "); what.starts_with("[json.exception.") && end != std::string_view::npos) {
        what.remove_prefix(end + 2);
    }
    return std::string(what);
}

std::string path_join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string path_index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

}  // namespace leadhatch::core
