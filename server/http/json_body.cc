#include "server/http/json_body.h"

#include <fmt/format.h>

namespace abrec {
namespace {

// The deepest nesting of arrays and objects, ignoring brackets inside strings.
int NestingDepth(std::string_view text, int stop_after) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > stop_after) return max_depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

Result<nlohmann::json> ParseJsonBody(const HttpRequest& request, int max_depth) {
  const std::string_view ct = request.content_type;
  // Media types are case-insensitive (RFC 9110 section 8.3.1); parameters may follow ';'.
  std::string media(ct.substr(0, ct.find(';')));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
  for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!ct.empty() && media != "application/json") {
    return std::unexpected(Error{
        ErrorCode::kInvalidArgument,
        fmt::format("Content-Type must be application/json, got \"{}\"", ct), "content-type"});
  }
  if (request.body.empty()) {
    return std::unexpected(
        Error::InvalidArgument("the request body is empty; expected a JSON object", "body"));
  }
  if (NestingDepth(request.body, max_depth) > max_depth) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("JSON nesting deeper than {} levels is not allowed", max_depth), "body"));
  }
  try {
    return nlohmann::json::parse(request.body);
  } catch (const nlohmann::json::exception& e) {
    // parse_error for syntax and UTF-8, out_of_range (406) for numbers beyond a double.
    return std::unexpected(
        Error::InvalidArgument(fmt::format("the body is not valid JSON: {}", e.what()), "body"));
  }
}

Result<const nlohmann::json*> BatchList(const nlohmann::json& body, std::string_view key,
                                        std::size_t max) {
  const auto it = body.is_object() ? body.find(key) : body.end();
  if (it == body.end() || !it->is_array()) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("expected a JSON object {{\"{}\": [ ... ]}}", key), std::string(key)));
  }
  for (const auto& [k, _] : body.items()) {
    if (k != key) {
      return std::unexpected(
          Error::InvalidArgument(fmt::format("unknown field \"{}\"; allowed: {}", k, key), k));
    }
  }
  if (it->size() > max) {
    return std::unexpected(Error{
        ErrorCode::kResourceExhausted,
        fmt::format("{} {} in one request; at most {}", it->size(), key, max), std::string(key)});
  }
  return &*it;
}

HttpResponse JsonResponse(const nlohmann::ordered_json& value, int status) {
  HttpResponse r;
  r.status = status;
  r.body = DumpJson(value);
  return r;
}

}  // namespace abrec
