-- wrk script for bench/http_assign.sh: the seed peer's cache-hit path,
-- GET /recommend/u{n} for n cycling through 0..9999 (all preloaded in its Redis).
local thread_count = 0
local counter = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  counter = (thread_number - 1) * 5000  -- the two threads start half the id range apart
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/recommend/u" .. (counter % 10000))
end
