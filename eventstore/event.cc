#include "eventstore/event.h"

namespace abrec {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kExposure: return "exposure";
    case EventType::kClick: return "click";
    case EventType::kBind: return "bind";
  }
  return "click";
}

}  // namespace abrec
