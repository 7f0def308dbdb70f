#pragma once

#include <functional>

#include "bot/asio.hpp"
#include "bot/config.hpp"
#include "bot/http/router.hpp"
#include "core/clock.hpp"
#include "core/leads/lead_service.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::bot {

// The admin REST API under /api/v1: leads (list with filters and keyset cursors, lookup by
// identity, detail, timeline, score explained, stage history, PATCH, merge, erase, CSV export),
// the funnel, merges and the outbox. Bearer tokens from the config, compared by SHA-256 hash in
// constant time; roles decide what each token may do (401 without a valid token, 403 when the
// role may not). Every write is an audit event carrying the token's name.
class AdminApi {
public:
    struct Deps {
        const Config& config;
        asio::thread_pool& db_pool;
        core::Storage& storage;
        const core::LeadService& leads;
        const core::Clock& clock;
    };

    explicit AdminApi(Deps deps);

    using AddRoute = std::function<void(const char* method, const char* pattern, Handler handler)>;
    void add_routes(const AddRoute& add);

    // The routes this API serves, for the OpenAPI check.
    static const std::vector<std::pair<std::string, std::string>>& routes();

private:
    Deps deps_;
};

}  // namespace leadhatch::bot
