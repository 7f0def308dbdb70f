#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "adapters/chat/chat_adapter.hpp"
#include "adapters/net/http_client.hpp"
#include <boost/asio/strand.hpp>

#include "bot/asio.hpp"
#include "core/clock.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::bot {

// Access tokens for platforms that use them (WeChat /cgi-bin/token, WeCom /cgi-bin/gettoken).
// One fetch at a time per channel for the whole deployment: inside this process callers wait for
// the refresh in flight; across processes the token lives in the database and a lease decides who
// fetches while the others wait for its result. Tokens are refreshed shortly before they expire,
// and at once when the platform rejects one (40001/40014/42001), never in a herd.
class AccessTokens {
public:
    struct Deps {
        asio::io_context& ioc;
        asio::thread_pool& db_pool;
        core::Storage& storage;
        adapters::net::HttpClient& client;
        const core::Clock& clock;
        std::chrono::seconds refresh_margin{300};
        std::chrono::seconds lease{15};
    };

    explicit AccessTokens(Deps deps);
    ~AccessTokens();

    void add_channel(const std::string& channel_id, const adapters::chat::ChatAdapter* adapter);
    bool uses_tokens(const std::string& channel_id) const;

    // A valid token; nullopt when the platform could not be asked or refused.
    Task<std::optional<std::string>> get(const std::string& channel_id);
    // The platform rejected `token`: forget it (if it is still the current one) so that the next
    // get() fetches a fresh one.
    Task<void> invalidate(const std::string& channel_id, const std::string& token);

    std::uint64_t fetches() const { return fetches_.load(); }

private:
    struct State;
    Task<std::optional<std::string>> get_on_strand(std::string channel_id);
    Task<void> refresh(State& st, const std::string& channel_id);
    Task<void> invalidate_on_strand(std::string channel_id, std::string token);

    Deps deps_;
    asio::strand<asio::io_context::executor_type> strand_;
    std::map<std::string, std::unique_ptr<State>> states_;
    std::atomic<std::uint64_t> fetches_{0};
};

}  // namespace leadhatch::bot
