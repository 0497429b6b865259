-- wrk script: POST batches of EVENTS_PER_BATCH events with ids unique to
-- this run (RUN_ID) to /api/v1/me/events, as each of the users whose
-- tokens USER_TOKENS lists (comma-separated) in turn.
local per_batch = tonumber(os.getenv("EVENTS_PER_BATCH") or "1")
local tokens = {}
for t in string.gmatch(os.getenv("USER_TOKENS") or "", "[^,]+") do
  tokens[#tokens + 1] = t
end
local run_id = os.getenv("RUN_ID") or "run"
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
    events[i] = string.format('{"id":"%s-%d-%d-%d","type":"impression","at":1780000000}', run_id, tid or 0, counter, i)
  end
  local body = '{"events":[' .. table.concat(events, ",") .. ']}'
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/api/v1/me/events", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests/s %.0f, events/s %.0f, p50 %.2f ms, p99 %.2f ms, errors %d\n",
    summary.requests / (summary.duration / 1e6), summary.requests * per_batch / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
