-- wrk script for bench/http_assign.sh: GET /v1/assign with a different user id on every
-- request ("user-<thread><counter>"), so the server never sees one cached id.
-- Exposure logging is off (log=false): it does not exist yet.
local thread_count = 0
local counter = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function request()
  counter = counter + 1
  return wrk.format("GET", string.format(
    "/v1/assign?user_id=user-%d%08d&experiment=recsys_v2_hybrid&log=false",
    thread_number, counter))
end
