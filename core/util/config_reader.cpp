#include "core/util/config_reader.hpp"

#include <algorithm>
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

namespace {

// obj[key], or nullptr when it is missing (a problem "required, <expected>" when it must be there).
const nlohmann::json* member(const nlohmann::json& obj, const std::string& here, std::string_view key, bool required,
                             std::string_view expected, ConfigProblems& p) {
    auto it = obj.find(key);
    if (it != obj.end()) return &*it;
    if (required) p.add(here, "required, " + std::string(expected));
    return nullptr;
}

}  // namespace

bool check_keys(const nlohmann::json& obj, const std::string& path, std::initializer_list<std::string_view> allowed,
                ConfigProblems& p) {
    bool ok = true;
    for (const auto& [key, value] : obj.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            p.add(path_join(path, key), "unknown key (expected " + list_keys(allowed) + ")");
            ok = false;
        }
    }
    return ok;
}

bool parse_document(std::string_view text, nlohmann::json& doc, ConfigProblems& p, std::string_view what) {
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        p.add("", "not valid JSON: " + json_error_text(e));
        return false;
    }
    if (!doc.is_object()) {
        p.add("", "must be a JSON object " + std::string(what));
        return false;
    }
    return true;
}

std::optional<std::string> read_string(const nlohmann::json& obj, const std::string& path, std::string_view key, bool required,
                                       bool allow_empty, ConfigProblems& p) {
    const std::string here = path_join(path, key);
    const auto* it = member(obj, here, key, required, "a non-empty string", p);
    if (!it) return std::nullopt;
    if (!it->is_string()) {
        p.add(here, std::string("must be a string, not ") + it->type_name());
        return std::nullopt;
    }
    auto value = it->get<std::string>();
    if (value.empty() && !allow_empty) {
        p.add(here, "must not be empty");
        return std::nullopt;
    }
    return value;
}

std::optional<std::int64_t> read_int(const nlohmann::json& obj, const std::string& path, std::string_view key, bool required,
                                     std::int64_t min, std::int64_t max, ConfigProblems& p) {
    const std::string here = path_join(path, key);
    const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    const auto* it = member(obj, here, key, required, range, p);
    if (!it) return std::nullopt;
    if (!it->is_number_integer()) {
        p.add(here, "must be " + range);
        return std::nullopt;
    }
    const bool too_big = it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(max);
    const auto v = it->get<std::int64_t>();
    if (too_big || v < min || v > max) {
        p.add(here, "must be " + range);
        return std::nullopt;
    }
    return v;
}

std::optional<double> read_number(const nlohmann::json& obj, const std::string& path, std::string_view key, double min,
                                  double max, ConfigProblems& p) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_number() || it->get<double>() < min || it->get<double>() > max) {
        p.add(path_join(path, key), "must be a number from " + std::to_string(static_cast<std::int64_t>(min)) + " to " +
                                   std::to_string(static_cast<std::int64_t>(max)));
        return std::nullopt;
    }
    return it->get<double>();
}

std::optional<std::vector<std::string>> read_strings(const nlohmann::json& obj, const std::string& path, std::string_view key,
                                                     bool required, ConfigProblems& p) {
    const std::string here = path_join(path, key);
    const auto* it = member(obj, here, key, required, "a non-empty array of strings", p);
    if (!it) return std::nullopt;
    if (!it->is_array() || it->empty()) {
        p.add(here, "must be a non-empty array of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const nlohmann::json& v = (*it)[i];
        if (!v.is_string()) {
            p.add(path_index(here, i), std::string("must be a string, not ") + v.type_name());
            ok = false;
        } else if (v.get<std::string>().empty()) {
            p.add(path_index(here, i), "must not be empty");
            ok = false;
        } else {
            out.push_back(v.get<std::string>());
        }
    }
    if (!ok) return std::nullopt;
    return out;
}

std::optional<bool> read_bool(const nlohmann::json& obj, const std::string& path, std::string_view key, ConfigProblems& p) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_boolean()) {
        p.add(path_join(path, key), std::string("must be true or false, not ") + it->type_name());
        return std::nullopt;
    }
    return it->get<bool>();
}

}  // namespace leadhatch::core
