// Edits of an experiment file's text that keep everything the product manager wrote
// (comments, key order, layout) byte for byte: the admin phase change rewrites one top-level
// scalar and nothing else.
#pragma once

#include <string>
#include <string_view>

#include "base/diagnostic.h"
#include "configtree/config_tree.h"

namespace abrec {

// `text` with the top-level `key` (an identifier) set to `value` (any string, written by
// YAML's emitter: see YamlScalar): the old scalar is replaced in place (in its quotes if it
// was quoted), or, when the key is absent, a line "key: value" is inserted before the second
// top-level key (after the experiment key), or "\"key\": \"value\", " after the opening
// brace of a flow (JSON) document. Fails with a
// diagnostic when the text does not parse, is not a map, or the key holds a list or map.
ParseResult<std::string> SetTopLevelScalar(std::string_view text, const std::string& file,
                                           std::string_view key, std::string_view value,
                                           const ParseLimits& limits);

}  // namespace abrec
