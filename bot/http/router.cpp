#include "bot/http/router.hpp"

namespace leadhatch::bot {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < path.size()) {
        if (path[pos] == '/') {
            ++pos;
            continue;
        }
        const auto next = path.find('/', pos);
        out.push_back(path.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
        if (next == std::string_view::npos) break;
        pos = next;
    }
    return out;
}

}  // namespace

int Router::add(std::string method, std::string pattern, Handler handler) {
    Route r;
    r.method = std::move(method);
    for (auto s : split_path(pattern)) r.segments.emplace_back(s);
    r.pattern = std::move(pattern);
    r.handler = std::move(handler);
    routes_.push_back(std::move(r));
    return static_cast<int>(routes_.size() - 1);
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
    Match m;
    const auto parts = split_path(path);
    bool path_known = false;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const Route& r = routes_[i];
        if (r.segments.size() != parts.size()) continue;
        RouteParams params;
        bool ok = true;
        for (std::size_t s = 0; s < parts.size() && ok; ++s) {
            const auto& seg = r.segments[s];
            if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
                if (parts[s].empty()) ok = false;
                else params.emplace_back(seg.substr(1, seg.size() - 2), percent_decode(parts[s], false));
            } else if (seg != parts[s]) {
                ok = false;
            }
        }
        if (!ok) continue;
        path_known = true;
        if (!m.allow.empty()) m.allow += ", ";
        m.allow += r.method;
        if (r.method == method || (method == "HEAD" && r.method == "GET")) {
            m.handler = &r.handler;
            m.route = static_cast<int>(i);
            m.params = std::move(params);
            m.method_allowed = true;
            return m;
        }
    }
    m.method_allowed = !path_known;
    return m;
}

const std::string* find_param(const RouteParams& params, std::string_view name) {
    for (const auto& [k, v] : params) {
        if (k == name) return &v;
    }
    return nullptr;
}

}  // namespace leadhatch::bot
