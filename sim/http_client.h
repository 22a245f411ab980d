// A small blocking HTTP/1.1 client over one keep-alive connection (Boost.Beast), for driving
// a running abrec service from `abrec simulate scenario --url`. Reconnects once when the
// server closed the connection between requests. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace abrec::sim {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  // `url`: http://HOST:PORT (no path). Errors: kInvalidArgument for another form.
  static Result<std::unique_ptr<HttpClient>> Open(std::string_view url, int timeout_ms = 30'000);
  ~HttpClient();

  // One request; headers as (name, value). Errors: kUnavailable when the service cannot be
  // reached or the answer cannot be read.
  Result<HttpAnswer> Request(std::string_view method, std::string_view target,
                             std::string_view body = {}, std::string_view content_type = {},
                             const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace abrec::sim
