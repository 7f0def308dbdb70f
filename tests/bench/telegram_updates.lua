-- wrk script: posts distinct, realistic Telegram message updates to /webhooks/tg-bench over
-- keep-alive connections. About 2% of the requests redeliver an update_id this thread already
-- sent (Telegram's retries), which the service must acknowledge without processing again.
-- Senders come from a pool of 20,000 people, so most updates touch an existing lead and some
-- create one, as on a live channel.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  sent = 0
  dups = 0
  non200 = 0
  math.randomseed(tid * 7919 + 17)
  -- Fresh update ids on every run (a warm-up run and the measured run must not collide).
  base = (os.time() % 100000) * 100000000 + tid * 10000000
  texts = {
    "Hello, I would like to know more about your pricing for a team of %d people. Can someone contact me?",
    "我们公司有%d个销售，想了解一下企业版的价格和部署方式，可以安排演示吗？",
    "Is there a discount for annual plans? We are %d seats and growing quickly this quarter.",
    "请问支持和企业微信打通吗？我们有%d个客户群需要管理。",
  }
end

function request()
  sent = sent + 1
  local uid = base + sent
  if sent > 100 and math.random() < 0.02 then
    uid = base + math.random(1, sent - 1)
    dups = dups + 1
  end
  -- LuaJIT numbers are doubles: keep products below 2^53 so every sender in the pool is drawn.
  local user = 100000000 + (((uid + tid * 10007) % 20000) * 7919) % 20000
  local text = string.format(texts[(uid % #texts) + 1], uid % 90 + 10)
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"User%d",' ..
    '"last_name":"Bench","username":"user_%d","language_code":"en"},"chat":{"id":%d,"first_name":"User%d",' ..
    '"last_name":"Bench","username":"user_%d","type":"private"},"date":1732350000,"text":"%s"}}',
    uid, uid % 1000000, user, user, user, user, user, user, text)
  return wrk.format("POST", "/webhooks/tg-bench",
    { ["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = "bench-secret" }, body)
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local total_dups, total_non200 = 0, 0
  for _, t in ipairs(threads) do
    total_dups = total_dups + t:get("dups")
    total_non200 = total_non200 + t:get("non200")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d seconds=%.2f req_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f " ..
    "max_ms=%.2f duplicates=%d non200=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, total_dups, total_non200,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
