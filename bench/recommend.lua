-- wrk script for bench/http_recommend.sh:
--   wrk ... -s recommend.lua URL -- get  IDS_FILE   GET /v1/recommend/{id}
--   wrk ... -s recommend.lua URL -- post IDS_FILE   POST /v1/recommend with attributes
--   wrk ... -s recommend.lua URL -- peer            the seed peer: GET /recommend/u{n}
-- IDS_FILE holds one precomputed user id a line (cust-NNNNNN); the threads cycle through it
-- from different offsets. The environment variable WRK_DELAY_MS > 0 paces each connection:
-- wrk waits about that long before each request (its delay() hook; wrk has no constant-rate
-- mode), so C connections send about C / (WRK_DELAY_MS + latency) requests per ms. Unset or
-- 0: no delay() is defined at all (maximum throughput; wrk checks for the hook when it loads
-- the script, which is why the delay comes from the environment and not from the arguments).
local thread_count = 0
local mode, ids = "get", {}
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0") or 0
local counter = 0
local regions = {"north", "south", "east", "west", "central", "coast"}
local occupations = {"student", "employed", "self_employed", "retired"}
local products = {"auto_third_party", "home_contents", "travel_annual", "pet", "health_dental",
                  "funeral", "roadside", "gadget"}

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  mode = args[1] or "get"
  if mode ~= "peer" then
    for line in io.lines(args[2]) do
      if #line > 0 then ids[#ids + 1] = line end
    end
    assert(#ids > 0, "no ids in " .. tostring(args[2]))
    counter = (thread_number - 1) * math.floor(#ids / 2)
  else
    counter = (thread_number - 1) * 5000
  end
  math.randomseed(thread_number * 7919)
end

-- A customer's attributes, drawn afresh for each POST (holdings: 0 to 2 products).
local function attributes()
  local held = {}
  for _ = 1, math.random(0, 2) do
    held[#held + 1] = '"' .. products[math.random(#products)] .. '"'
  end
  return string.format(
    '{"age":%d,"sex":"%s","region":"%s","occupation":"%s","holdings":[%s]}',
    math.random(18, 80), math.random() < 0.5 and "F" or "M", regions[math.random(#regions)],
    occupations[math.random(#occupations)], table.concat(held, ","))
end

function request()
  counter = counter + 1
  if mode == "peer" then
    return wrk.format("GET", "/recommend/u" .. (counter % 10000))
  end
  local id = ids[(counter % #ids) + 1]
  if mode == "post" then
    -- wrk.format uses the headers it is given instead of wrk's -H ones (the API key).
    local h = {["Content-Type"] = "application/json"}
    for k, v in pairs(wrk.headers) do h[k] = v end
    return wrk.format("POST", "/v1/recommend", h,
                      '{"user_id":"' .. id .. '","attributes":' .. attributes() .. '}')
  end
  return wrk.format("GET", "/v1/recommend/" .. id)
end

-- The delay is drawn from an exponential distribution with mean WRK_DELAY_MS, not fixed: with
-- a fixed delay the connections fall into step and send their requests in bursts of C at
-- once, so the measured latency is mostly the wait behind the rest of the burst. Random
-- delays keep the arrivals spread (close to a Poisson process, as independent clients are).
if delay_ms > 0 then
  function delay()
    return math.floor(-math.log(1 - math.random()) * delay_ms + 0.5)
  end
end
