#include "bot/templates_loader.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace leadhatch::bot {

const std::vector<std::string>& required_message_keys() {
    static const std::vector<std::string> kKeys{"welcome", "help", "unsubscribed", "resubscribed"};
    return kKeys;
}

core::TemplateCatalog load_templates(const std::filesystem::path& dir, std::vector<core::TemplateProblem>& problems) {
    core::TemplateCatalog catalog;
    const std::string shown_dir = dir.filename().string();
    const auto messages = dir / "messages";
    std::error_code ec;
    if (!std::filesystem::is_directory(messages, ec)) {
        problems.push_back({shown_dir + "/messages", "missing: the folder of message templates (<locale>.json)"});
        return catalog;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(messages, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        problems.push_back({shown_dir + "/messages", "no <locale>.json message files"});
        return catalog;
    }
    for (const auto& f : files) {
        const std::string shown = shown_dir + "/messages/" + f.filename().string();
        std::ifstream in(f, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        if (!in && !in.eof()) {
            problems.push_back({shown, "cannot read"});
            continue;
        }
        catalog.add_locale(f.stem().string(), ss.str(), shown, problems);
    }
    catalog.validate_required(required_message_keys(), problems);
    return catalog;
}

namespace {

std::optional<std::string> read_file(const std::filesystem::path& p) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TemplateBundle load_template_bundle(const std::filesystem::path& dir, std::vector<core::TemplateProblem>& problems) {
    TemplateBundle b;
    b.messages = load_templates(dir, problems);
    const std::string shown = dir.filename().string();
    if (auto text = read_file(dir / "funnel.json")) {
        if (auto f = core::parse_funnel(*text, shown + "/funnel.json", problems)) b.funnel = std::move(*f);
    }
    if (auto text = read_file(dir / "scoring.json")) {
        if (auto sc = core::parse_scoring(*text, shown + "/scoring.json", problems)) b.scoring = std::move(*sc);
    }
    if (auto text = read_file(dir / "segments.json")) {
        if (auto sg = core::parse_segments(*text, shown + "/segments.json", problems)) b.segments = std::move(*sg);
    }
    return b;
}

}  // namespace leadhatch::bot
