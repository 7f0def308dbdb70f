#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/storage/storage_factory.hpp"
#include "core/types.hpp"

namespace leadhatch::bot {

struct ServerConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    int threads = 2;
    std::size_t max_body_bytes = 1024 * 1024;
    int max_connections = 10000;
    std::chrono::milliseconds header_timeout{10'000};  // first request line + headers
    std::chrono::milliseconds body_timeout{30'000};
    std::chrono::milliseconds idle_timeout{60'000};  // keep-alive wait for the next request
    std::chrono::milliseconds shutdown_timeout{20'000};
};

struct StorageConfig {
    std::string url;
    adapters::storage::StorageUrl parsed;
    int pool_size = 8;
    int max_batch = 512;  // deliveries grouped into one commit
    int busy_timeout_ms = 5000;  // SQLite: how long a write waits for a lock before giving up
};

struct LoggingConfig {
    std::string level = "info";
    bool json = false;
};

enum class Role { kAdmin, kMarketer, kSales, kSupport };
std::string_view to_string(Role r);

struct AdminToken {
    std::string name;
    Role role = Role::kAdmin;
    std::array<unsigned char, 32> sha256{};  // only the hash is kept
};

struct RateLimits {
    double per_second = 30;           // all chats of one bot
    double per_chat_per_second = 1;   // one private chat
    double per_group_per_minute = 20; // one group chat
};

struct OutboxConfig {
    int max_attempts = 8;
    std::chrono::milliseconds base_backoff{1000};
    std::chrono::milliseconds max_backoff{300'000};
    std::chrono::milliseconds request_timeout{10'000};
    // A claimed row is reserved this long; after a crash its rows are sent again once it runs out.
    std::chrono::milliseconds lease{30'000};
    int batch = 200;
};

struct ChannelConfig {
    std::string id;
    core::Platform platform = core::Platform::kTelegram;
    std::string api_base;
    std::map<std::string, std::string> credentials;  // platform keys, e.g. bot_token, secret_token
    std::string default_locale = "en";
    std::string bot_username;
    RateLimits rate_limits;
    bool verify_tls = true;
    std::optional<std::chrono::seconds> replay_window;

    const std::string& credential(const std::string& key) const;
};

struct Config {
    std::filesystem::path file;      // the config file
    std::filesystem::path base_dir;  // its folder: relative paths resolve against it
    ServerConfig server;
    StorageConfig storage;
    std::string timezone = "UTC";
    std::filesystem::path templates_dir;
    std::vector<AdminToken> admin_tokens;
    std::vector<ChannelConfig> channels;
    LoggingConfig logging;
    OutboxConfig outbox;

    const ChannelConfig* channel(std::string_view id) const;
};

struct ConfigProblem {
    std::string path;  // "channels[2].bot_token", or a template file and its path
    std::string message;
};

struct ConfigLoad {
    std::optional<Config> config;  // set only when problems is empty
    std::vector<ConfigProblem> problems;
};

// Reads and validates the config file: every problem is reported with its path, unknown keys and
// unset ${ENV} references included. Templates named by the config are validated too.
ConfigLoad load_config(const std::filesystem::path& file);
ConfigLoad parse_config(const std::string& text, const std::filesystem::path& file);

std::array<unsigned char, 32> sha256(std::string_view data);

}  // namespace leadhatch::bot
