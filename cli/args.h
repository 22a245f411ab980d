// Command-line arguments: "--name value", "--name=value", "--flag" and positionals.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace abrec {

struct Args {
  std::map<std::string, std::string> options;  // "--seed x" -> {"seed", "x"}
  std::set<std::string> flags;                 // "--help" -> "help"
  std::vector<std::string> positionals;

  std::optional<std::string> Get(const std::string& name) const;
  bool Has(const std::string& flag) const { return flags.contains(flag); }
};

// `with_value`: options that take a value; `flag_names`: options that take none. Anything
// else starting with "--" is an error; "--" ends the options.
Result<Args> ParseArgs(const std::vector<std::string>& argv,
                       const std::set<std::string>& with_value,
                       const std::set<std::string>& flag_names);

// The number given to option --`name`, or nullopt when it is absent. Throws
// std::invalid_argument, with a message naming the option and the range, when it is not a
// number in [low, high].
std::optional<double> NumberOption(const Args& args, const std::string& name, double low,
                                   double high);

// The comma-separated numbers given to option --`name` ("0.02,0.05"), or nullopt when it is
// absent. Throws std::invalid_argument, naming the option and the range, when an item is not
// a number in [low, high].
std::optional<std::vector<double>> NumberListOption(const Args& args, const std::string& name,
                                                    double low, double high);

// A subcommand's arguments, with --help handled: prints the help (exit status 0) or the
// usage error with the help (exit status 2), and returns that status as the error.
std::expected<Args, int> ParseCommandArgs(std::string_view command,
                                          const std::vector<std::string>& argv,
                                          const std::set<std::string>& with_value,
                                          std::string_view help);

}  // namespace abrec
