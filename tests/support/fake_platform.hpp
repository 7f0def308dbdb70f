#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace leadhatch::testing {

struct RecordedRequest {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    std::chrono::steady_clock::time_point at;

    std::string header(const std::string& lower_name) const {
        for (const auto& [k, v] : headers) {
            if (k == lower_name) return v;
        }
        return {};
    }
};

struct FakeReply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::chrono::milliseconds delay{0};
    bool hang = false;  // never answer (until the server stops)
};

// A fake platform API on 127.0.0.1 for end-to-end tests: records every request and answers with
// what the handler says (the platform's real response shapes, written in the tests).
class FakePlatform {
public:
    using Handler = std::function<FakeReply(const RecordedRequest&)>;

    explicit FakePlatform(Handler handler);
    ~FakePlatform();
    FakePlatform(const FakePlatform&) = delete;
    FakePlatform& operator=(const FakePlatform&) = delete;

    std::uint16_t port() const;
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    void set_handler(Handler handler);

    std::vector<RecordedRequest> requests() const;
    std::size_t count() const;
    // Polls until pred(requests) holds or the timeout passes.
    bool wait_for(const std::function<bool(const std::vector<RecordedRequest>&)>& pred,
                  std::chrono::milliseconds timeout) const;
    bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout) const;
    std::set<std::string> idempotency_keys() const;
    void clear();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

// Telegram Bot API answers, shaped as the documentation shows them.
namespace telegram_replies {
FakeReply ok_message(const RecordedRequest& request);  // {"ok":true,"result":{Message}}
FakeReply ok_true();                                     // {"ok":true,"result":true}
FakeReply too_many_requests(int retry_after);            // 429 with parameters.retry_after
FakeReply server_error(int status = 502);
FakeReply blocked();                                     // 403 "Forbidden: bot was blocked by the user"
FakeReply chat_not_found();                              // 400 "Bad Request: chat not found"
// The default: sendMessage → ok_message, answerCallbackQuery → ok_true.
FakeReply answer(const RecordedRequest& request);
}  // namespace telegram_replies

}  // namespace leadhatch::testing
