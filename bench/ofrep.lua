-- wrk script for bench/ofrep.sh: POSTs one OFREP single-flag evaluation
-- request, the same one on every connection, and prints a machine-readable
-- summary line at the end.
--
-- Environment: FLAG_KEY (flag to evaluate, default static-bool), TOKEN
-- (sent as "Authorization: Bearer $TOKEN"; servers without auth ignore it) and
-- CONTEXT_EXTRA (more context members, e.g. ',"version":"2.3.0"').

local key = os.getenv("FLAG_KEY") or "static-bool"
local token = os.getenv("TOKEN") or "none"
local extra = os.getenv("CONTEXT_EXTRA") or ""

wrk.method = "POST"
wrk.path = "/ofrep/v1/evaluate/flags/" .. key
wrk.body = '{"context":{"targetingKey":"user-123","email":"a@example.com"' .. extra .. '}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

-- RESULT requests duration_us p50_us p99_us errors(connect+read+write+timeout) non2xx
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
