#include "bot/access_tokens.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace leadhatch::bot {

namespace net = boost::asio;

struct AccessTokens::State {
    explicit State(net::strand<net::io_context::executor_type> s) : done(s) {}
    const adapters::chat::ChatAdapter* adapter = nullptr;
    std::string token;
    core::Timestamp expires_at{};
    std::string rejected;  // a token the platform refused: never taken from the database again
    bool refreshing = false;
    net::steady_timer done;  // cancelled when a refresh ends; waiters sleep on it
};

AccessTokens::AccessTokens(Deps deps) : deps_(deps), strand_(net::make_strand(deps.ioc)) {}
AccessTokens::~AccessTokens() = default;

void AccessTokens::add_channel(const std::string& channel_id, const adapters::chat::ChatAdapter* adapter) {
    if (!adapter || !adapter->build_token_request()) return;
    auto st = std::make_unique<State>(strand_);
    st->adapter = adapter;
    states_.emplace(channel_id, std::move(st));
}

bool AccessTokens::uses_tokens(const std::string& channel_id) const { return states_.count(channel_id) != 0; }

// Every piece of token state is touched only by coroutines running on strand_.
Task<std::optional<std::string>> AccessTokens::get(const std::string& channel_id) {
    if (!states_.count(channel_id)) co_return std::nullopt;
    co_return co_await net::co_spawn(strand_, get_on_strand(channel_id), net::use_awaitable);
}

Task<std::optional<std::string>> AccessTokens::get_on_strand(std::string channel_id) {
    State& st = *states_.at(channel_id);
    for (int round = 0; round < 3; ++round) {
        if (!st.token.empty() && deps_.clock.now() + deps_.refresh_margin < st.expires_at) co_return st.token;
        if (st.refreshing) {
            // Someone in this process is fetching: wait for it instead of fetching too.
            st.done.expires_after(std::chrono::seconds(30));
            boost::system::error_code ec;
            co_await st.done.async_wait(net::redirect_error(net::use_awaitable, ec));
            continue;
        }
        co_await refresh(st, channel_id);
    }
    if (!st.token.empty() && deps_.clock.now() < st.expires_at) co_return st.token;
    co_return std::nullopt;
}

Task<void> AccessTokens::refresh(State& st, const std::string& channel_id) {
    st.refreshing = true;
    struct Done {
        State& st;
        ~Done() {
            st.refreshing = false;
            st.done.cancel();
        }
    } done{st};
    auto& storage = deps_.storage;
    auto usable = [&](const std::optional<core::Storage::StoredToken>& t) {
        return t && t->token != st.rejected && deps_.clock.now() + deps_.refresh_margin < t->expires_at;
    };
    try {
        // Another process may have fetched one already.
        auto stored = co_await offload(deps_.db_pool, [&] { return storage.read_token(channel_id); });
        if (usable(stored)) {
            st.token = stored->token;
            st.expires_at = stored->expires_at;
            co_return;
        }
        const auto now = deps_.clock.now();
        const bool leased = co_await offload(deps_.db_pool, [&] {
            return storage.lease_token_refresh(channel_id, now, now + deps_.lease);
        });
        if (!leased) {
            // Another process is fetching: wait for its token rather than asking the platform too.
            net::steady_timer t(strand_);
            for (int i = 0; i < 75; ++i) {
                t.expires_after(std::chrono::milliseconds(200));
                boost::system::error_code ec;
                co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
                stored = co_await offload(deps_.db_pool, [&] { return storage.read_token(channel_id); });
                if (usable(stored)) {
                    st.token = stored->token;
                    st.expires_at = stored->expires_at;
                    co_return;
                }
            }
            co_return;  // its lease ran out without a token; the next get() tries again
        }
        auto request = st.adapter->build_token_request();
        ++fetches_;
        auto response = co_await deps_.client.send(std::move(*request));
        auto token = st.adapter->parse_token_response(response);
        const auto fetched_at = deps_.clock.now();
        if (!token || token->token.empty()) {
            spdlog::warn("tokens: {} refused an access token (status {})", channel_id, response.status);
            co_await offload(deps_.db_pool, [&] {
                storage.store_token(channel_id, "", {}, fetched_at);
                return 0;
            });
            co_return;
        }
        st.token = token->token;
        st.expires_at = fetched_at + token->expires_in;
        co_await offload(deps_.db_pool, [&] {
            storage.store_token(channel_id, st.token, st.expires_at, fetched_at);
            return 0;
        });
        spdlog::info("tokens: fresh access token for {} (valid {} s)", channel_id, token->expires_in.count());
    } catch (const std::exception& e) {
        spdlog::warn("tokens: refreshing {} failed: {}", channel_id, e.what());
    }
}

Task<void> AccessTokens::invalidate(const std::string& channel_id, const std::string& token) {
    if (!states_.count(channel_id)) co_return;
    // A coroutine function, not a capturing lambda coroutine: built with g++ 12 and Boost 1.74, the
    // lambda form ran but never resumed the dispatcher's send that awaited it (the send hung and
    // its row stayed leased): found by the WeChat end-to-end token-expiry test.
    co_await net::co_spawn(strand_, invalidate_on_strand(channel_id, token), net::use_awaitable);
}

Task<void> AccessTokens::invalidate_on_strand(std::string channel_id, std::string token) {
    State& st = *states_.at(channel_id);
    st.rejected = token;
    if (st.token == token) st.token.clear();
    co_return;
}

}  // namespace leadhatch::bot
