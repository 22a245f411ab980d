// Reads the events of POST /v1/events (DESIGN.md's wire format) into validated Events.
// Each problem names its field ("events[3].premium") and says what is allowed.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "eventstore/event.h"
#include "platform/platform.h"

namespace abrec {

// Annual premiums above this (in currency units) are refused: far beyond any real policy,
// and it keeps sums of squares of cents exact in 64-bit integers.
inline constexpr double kMaxPremium = 1'000'000.0;

// Validates one event object at `index` of the batch against the platform (experiments,
// timestamp window from config.events, clock). Pure apart from reading the registry.
Result<Event> ReadEvent(const nlohmann::json& j, std::size_t index, const Platform& platform);

}  // namespace abrec
