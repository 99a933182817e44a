-- wrk script for benches/load.sh: prints one machine-readable RESULT line with exact
-- percentiles, and with LOAD_VARY=1 gives every request its own cookie (`n=<thread>-<count>`,
-- which CUPI and the simulator ignore) so that the gateway cannot coalesce them: cookies are
-- part of the coalescing key, and an undescribed query parameter would be refused with 400.

local vary = os.getenv("LOAD_VARY") == "1"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local counter = 0

function request()
  if not vary then
    return wrk.request()
  end
  counter = counter + 1
  wrk.headers["Cookie"] = "n=" .. id .. "-" .. counter
  return wrk.format(nil, wrk.path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d bytes=%d " ..
    "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d non2xx=%d\n",
    summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.bytes, e.connect, e.read, e.write, e.timeout, e.status))
end
