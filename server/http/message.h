// Requests and responses as the router sees them: plain values, no Beast types, so routes
// are pure functions testable without sockets.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace abrec {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-encoded, without the query
  std::string query;   // after '?', percent-encoded
  std::string body;
  std::string content_type;
  std::string authorization;
  std::string cookie;          // the Cookie header
  std::string remote_address;  // the peer's IP address, as text
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace abrec
