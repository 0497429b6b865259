-- wrk script: POST batches of EVENTS_PER_BATCH events with unique ids to
-- /api/events as a signed-in user (SESSION_COOKIE).
local per_batch = tonumber(os.getenv("EVENTS_PER_BATCH") or "1")
local cookie = os.getenv("SESSION_COOKIE")
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local events = {}
  for i = 1, per_batch do
    events[i] = string.format('{"id":"w%d-%d-%d","type":"impression","at":1780000000}', tid or 0, counter, i)
  end
  local body = '{"events":[' .. table.concat(events, ",") .. ']}'
  return wrk.format("POST", "/api/events", { ["Content-Type"] = "application/json", ["Cookie"] = cookie }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests/s %.0f, events/s %.0f, p50 %.2f ms, p99 %.2f ms, errors %d\n",
    summary.requests / (summary.duration / 1e6), summary.requests * per_batch / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
