#pragma once

#include <functional>

#include "bot/asio.hpp"
#include "bot/config.hpp"
#include "bot/http/router.hpp"
#include "core/clock.hpp"

namespace leadhatch::bot {

class Webhooks;

// Admin API routes that act on a channel through its platform:
//   POST /api/v1/channels/{id}/qrcodes   a WeChat Official Account parametric QR code for a scene
//        {"scene": "src_<campaign>" | "ref_<code>" | "rep_<owner>", "permanent": bool,
//         "expire_seconds": int (temporary codes, 60-2592000)}
//        -> 201 {"ticket", "url" (the image), "content_url", "scene", "permanent", "expires_at" | null}
// Roles admin and marketer. Follows through the code are attributed like deep links.
class ChannelApi {
public:
    struct Deps {
        const Config& config;
        Webhooks& webhooks;
        const core::Clock& clock;
    };

    explicit ChannelApi(Deps deps);

    using AddRoute = std::function<void(const char* method, const char* pattern, Handler handler)>;
    void add_routes(const AddRoute& add);

private:
    Task<HttpResponse> create_qrcode(HttpRequest& req, const RouteParams& params);

    Deps deps_;
};

}  // namespace leadhatch::bot
