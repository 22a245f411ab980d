// The event store's schema, as an ordered list of migrations: migration i brings the
// database from PRAGMA user_version i to i + 1. Never edit a released migration; add one.
#pragma once

#include <span>
#include <string_view>

namespace abrec {

std::span<const std::string_view> SqliteMigrations();

}  // namespace abrec
