#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bot/asio.hpp"
#include "bot/http/message.hpp"

namespace leadhatch::bot {

using RouteParams = std::vector<std::pair<std::string, std::string>>;
using Handler = std::function<Task<HttpResponse>(HttpRequest&, const RouteParams&)>;

// Maps METHOD + path pattern ("/api/v1/leads/{id}/events") to a handler. Patterns are matched
// segment by segment; {name} captures one non-empty segment (percent-decoded).
class Router {
public:
    struct Match {
        const Handler* handler = nullptr;
        int route = -1;            // index for metrics; -1 when nothing matched
        bool method_allowed = true;  // false: the path exists with another method (405)
        RouteParams params;
        std::string allow;  // methods the path accepts, for the Allow header
    };

    // Returns the route's index. Registration happens before serving; matching is then read-only.
    int add(std::string method, std::string pattern, Handler handler);
    Match match(std::string_view method, std::string_view path) const;

    const std::string& pattern(int route) const { return routes_[static_cast<std::size_t>(route)].pattern; }
    std::size_t size() const { return routes_.size(); }

private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;
        Handler handler;
    };
    std::vector<Route> routes_;
};

const std::string* find_param(const RouteParams& params, std::string_view name);

}  // namespace leadhatch::bot
