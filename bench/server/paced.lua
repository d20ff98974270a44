-- wrk script: a steady rate instead of as fast as possible. Each connection
-- waits PACE_MS between its requests, so C connections make about
-- C * 1000 / PACE_MS requests a second; wrk's latency figures then describe
-- the server at that rate.
local pace = tonumber(os.getenv("PACE_MS") or "10")
function delay()
  return pace
end
