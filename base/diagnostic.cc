#include "base/diagnostic.h"

#include <fmt/format.h>

namespace abrec {

std::string Diagnostic::ToString() const {
  std::string out = fmt::format("{}:{}:{}: ", file, line, column);
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

}  // namespace abrec
