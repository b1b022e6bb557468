-- wrk script for bench/ofrep.sh: POSTs one OFREP single-flag evaluation
-- request, the same one on every connection, and prints a machine-readable
-- summary line at the end.
--
-- Environment: FLAG_KEY (flag to evaluate, default static-bool), TOKEN
-- (sent as "Authorization: Bearer $TOKEN"; servers without auth ignore it),
-- CONTEXT_EXTRA (more context members, e.g. ',"version":"2.3.0"') and USERS
-- (default 1: every request is for user-123; N > 1: each thread cycles
-- through the targeting keys user-1 .. user-N, so that a server recording
-- exposures sees new users and not the same one over and over), NEW_USERS
-- (1: every request carries a targeting key never sent before, new-<run>-
-- <thread>-<n>, so that every evaluation is a first exposure; RUN names the
-- run so that warm-up and measurement never share a key) and BULK (1: the
-- request is an OFREP bulk evaluation of every flag of the set, POST
-- /ofrep/v1/evaluate/flags, instead of FLAG_KEY).

local key = os.getenv("FLAG_KEY") or "static-bool"
local token = os.getenv("TOKEN") or "none"
local extra = os.getenv("CONTEXT_EXTRA") or ""
local users = tonumber(os.getenv("USERS") or "1")
local new_users = os.getenv("NEW_USERS") == "1"
local run = os.getenv("RUN") or "0"

wrk.method = "POST"
wrk.path = "/ofrep/v1/evaluate/flags/" .. key
if os.getenv("BULK") == "1" then
  wrk.path = "/ofrep/v1/evaluate/flags"
end
local function body(user)
  return '{"context":{"targetingKey":"' .. user .. '","email":"a@example.com"' .. extra .. '}}'
end
wrk.body = body("user-123")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

-- Each thread numbers its own users; setup gives each thread its id.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

if new_users then
  local n = 0
  function request()
    n = n + 1
    return wrk.format(nil, nil, nil, body("new-" .. run .. "-" .. tid .. "-" .. n))
  end
elseif users > 1 then
  local reqs, n = {}, 0
  function init(args)
    for i = 1, users do
      reqs[i] = wrk.format(nil, nil, nil, body("user-" .. i))
    end
  end
  function request()
    n = n % users + 1
    return reqs[n]
  end
end

-- RESULT requests duration_us p50_us p99_us errors(connect+read+write+timeout) non2xx
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
