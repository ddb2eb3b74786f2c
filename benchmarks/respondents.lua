-- wrk script for benchmarks/submissions.py: each request is one respondent's request,
-- taken in turn from PATHS_FILE (threads take every Nth line, so none repeats).
-- METHOD=POST sends BODY (the CSRF token) with COOKIE (the session it belongs to).
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do paths[#paths + 1] = line end
local method, body, cookie = os.getenv("METHOD"), os.getenv("BODY"), os.getenv("COOKIE")
local thread_count, threads = 0, {}

function setup(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

function init(args)
  index, step, acknowledged, failed = offset, tonumber(os.getenv("THREADS")), 0, 0
end

function request()
  index = index + step
  local path = paths[((index - 1) % #paths) + 1]
  local headers = {["Cookie"] = cookie}
  if method == "POST" then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(method, path, headers, method == "POST" and body or nil)
end

function response(status, headers, response_body)
  local location = headers["Location"] or ""
  if (method == "POST" and status == 302 and location:sub(-5) == "/done") or (method == "GET" and status == 200) then
    acknowledged = acknowledged + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("acknowledged")
    bad = bad + thread:get("failed")
  end
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\n", ok, bad, summary.duration / 1e6,
    latency:percentile(95) / 1000, latency:percentile(50) / 1000))
end
