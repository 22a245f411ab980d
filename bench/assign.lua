-- wrk script for bench/http_assign.sh: GET /v1/assign with a different user id on every
-- request ("user-<thread><counter>"), so the server never sees one cached id.
--   wrk ... -s assign.lua URL             log=false: no exposure is logged
--   wrk ... -s assign.lua URL -- log      exposure logging (the default of the endpoint):
--                                         each answer waits for its exposure's commit
local thread_count = 0
local counter = 0
local suffix = "&log=false"

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  if args[1] == "log" then suffix = "" end
end

function request()
  counter = counter + 1
  return wrk.format("GET", string.format(
    "/v1/assign?user_id=user-%d%08d&experiment=recsys_v2_hybrid%s",
    thread_number, counter, suffix))
end
