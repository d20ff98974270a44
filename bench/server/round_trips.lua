-- wrk script: completes the tasks FIRST..LAST (assigned to the bench user),
-- thread i taking FIRST+i, FIRST+i+THREADS, ...; one
-- POST /api/v1/tasks/{id}/complete per request. Past LAST a request gets a 404
-- (counted as non-2xx), so give it enough tasks for the run.
-- Environment: FIRST, LAST, THREADS (wrk -t), COOKIE (banshi_session=...), CSRF.
local first = tonumber(os.getenv("FIRST"))
local last = tonumber(os.getenv("LAST"))
local threads = tonumber(os.getenv("THREADS") or "1")
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  next_task = first + index
end

function request()
  local task = next_task
  next_task = next_task + threads
  return wrk.format("POST", "/api/v1/tasks/" .. task .. "/complete", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = os.getenv("COOKIE"),
    ["X-CSRF-Token"] = os.getenv("CSRF"),
  }, '{"variables":{"approved":true}}')
end

function done(summary, latency, requests)
  io.write(string.format("tasks completed: %d requests, %d not 2xx, past the seeded range: %s\n",
                         summary.requests, summary.errors.status, tostring(first + summary.requests > last)))
end
