-- wrk script: one durable round trip per request, by ACTION:
--   complete  POST /api/v1/tasks/{id}/complete for the tasks FIRST..LAST
--             (assigned to the bench user);
--   claim     POST /api/v1/tasks/{id}/claim for the tasks FIRST..LAST
--             (offered to its group);
--   start     POST /api/v1/instances of bench-start, each with a business key
--             of its own, each waiting at a user task.
-- Thread i takes the tasks FIRST+i, FIRST+i+THREADS, ...; past LAST a request
-- gets a 404 (counted as non-2xx), so give it enough tasks for the run.
-- Environment: ACTION (default complete), FIRST, LAST, THREADS (wrk -t),
-- COOKIE (banshi_session=...), CSRF.
local action = os.getenv("ACTION") or "complete"
local first = tonumber(os.getenv("FIRST") or "0")
local last = tonumber(os.getenv("LAST") or "0")
local threads = tonumber(os.getenv("THREADS") or "1")
local headers = {
  ["Content-Type"] = "application/json",
  ["Cookie"] = os.getenv("COOKIE"),
  ["X-CSRF-Token"] = os.getenv("CSRF"),
}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  next_task = first + index
  sequence = 0
end

function request()
  if action == "start" then
    sequence = sequence + 1
    return wrk.format("POST", "/api/v1/instances", headers,
                      string.format('{"processId":"bench-start","businessKey":"S-%d-%d"}', index, sequence))
  end
  local task = next_task
  next_task = next_task + threads
  local body = action == "complete" and '{"variables":{"approved":true}}' or '{}'
  return wrk.format("POST", "/api/v1/tasks/" .. task .. "/" .. action, headers, body)
end

function done(summary, latency, requests)
  local past = action ~= "start" and first + summary.requests > last
  io.write(string.format("%s: %d requests, %d not 2xx, past the seeded range: %s\n", action, summary.requests,
                         summary.errors.status, tostring(past)))
end
