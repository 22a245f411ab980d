-- wrk script for bench/http_events.sh: POST /v1/events with BATCH events per request.
--   wrk ... -s events.lua URL -- BATCH USERS_FILE PRODUCTS_FILE
-- USERS_FILE has one user id per line, all in a variant (control or treatment) of the
-- experiment recsys_v2_hybrid: the server checks an exposure against the user's assignment
-- and rejects it for a user who is not enrolled. Every event draws its user from that pool, so clicks and binds of users who
-- already have an exposure update the per-user and per-bucket aggregates, as in production.
--
-- Mix per event: 5% exposures of recsys_v2_hybrid with three recommended items, 10% binds
-- with a premium, 85% clicks; each with a request id shaped like those abrec's answers carry
-- (32 hex digits: 16 of the time in microseconds, then 16 random), as a client copies them
-- from the answer an event follows. Event ids are "e<thread>-<request>-<i>": unique across the
-- run, so nothing is a duplicate. No timestamp: the server stamps each event.
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

local batch = 1
local users = {}
local counter = 0
local issued = 0
local products = {}  -- the catalog's ids (PRODUCTS_FILE): the server rejects any other

function init(args)
  batch = tonumber(args[1]) or error("events.lua: first argument: events per request")
  local path = args[2] or error("events.lua: second argument: the file of user ids")
  for line in io.lines(path) do
    if #line > 0 then users[#users + 1] = line end
  end
  if #users == 0 then error("events.lua: no user ids in " .. path) end
  local catalog = args[3] or error("events.lua: third argument: the file of product ids")
  for line in io.lines(catalog) do
    if #line > 0 then products[#products + 1] = line end
  end
  if #products == 0 then error("events.lua: no product ids in " .. catalog) end
  math.randomseed(thread_number * 7919)
end

local function event(i)
  local id = string.format("e%d-%d-%d", thread_number, counter, i)
  local user = users[math.random(#users)]
  -- the request id of the answer the event follows, abrec's shape: the time it was issued
  -- (here: now, in whole seconds, plus a per-thread count), then 64 random bits
  issued = issued + 1
  local t = os.time() * 1000000 + issued % 1000000
  local rid = string.format("%08x%08x%08x%08x", math.floor(t / 4294967296), t % 4294967296,
                            math.random(0, 2147483647), math.random(0, 2147483647))
  local r = math.random(100)
  if r <= 5 then
    return string.format(
      '{"event_id":"%s","type":"exposure","user_id":"%s","request_id":"%s",' ..
      '"experiment":"recsys_v2_hybrid","model_version":"hybrid-1","items":[' ..
      '{"product_id":"%s","position":1,"propensity":0.9},' ..
      '{"product_id":"%s","position":2,"propensity":0.05},' ..
      '{"product_id":"%s","position":3,"propensity":0.05}]}',
      id, user, rid, products[math.random(#products)], products[math.random(#products)],
      products[math.random(#products)])
  elseif r <= 15 then
    return string.format(
      '{"event_id":"%s","type":"bind","user_id":"%s","request_id":"%s","product_id":"%s",' ..
      '"position":%d,"premium":%d.%02d}',
      id, user, rid, products[math.random(#products)], math.random(10), math.random(100, 2500),
      math.random(0, 99))
  else
    return string.format(
      '{"event_id":"%s","type":"click","user_id":"%s","request_id":"%s","product_id":"%s",' ..
      '"position":%d}',
      id, user, rid, products[math.random(#products)], math.random(10))
  end
end

-- wrk.format uses the headers it is given instead of wrk's -H ones: copy those (the API key
-- bench/lib.sh passes) and add the content type.
local headers = {}

local function json_headers()
  local h = {["Content-Type"] = "application/json"}
  for k, v in pairs(wrk.headers) do h[k] = v end
  return h
end

function request()
  if next(headers) == nil then headers = json_headers() end
  counter = counter + 1
  local parts = {}
  for i = 1, batch do parts[i] = event(i) end
  return wrk.format("POST", "/v1/events", headers,
                    '{"events":[' .. table.concat(parts, ",") .. ']}')
end
