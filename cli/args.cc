#include "cli/args.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace abrec {

std::optional<std::string> Args::Get(const std::string& name) const {
  const auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Result<Args> ParseArgs(const std::vector<std::string>& argv,
                       const std::set<std::string>& with_value,
                       const std::set<std::string>& flag_names) {
  Args out;
  bool only_positionals = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positionals || a.size() < 2 || a.compare(0, 2, "--") != 0) {
      out.positionals.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (flag_names.contains(name) && !value) {
      out.flags.insert(name);
    } else if (with_value.contains(name)) {
      if (!value) {
        if (i + 1 >= argv.size()) {
          return std::unexpected(
              Error::InvalidArgument(fmt::format("--{} needs a value", name), name));
        }
        value = argv[++i];
      }
      out.options[name] = *value;
    } else {
      return std::unexpected(
          Error::InvalidArgument(fmt::format("unknown option --{}", name), name));
    }
  }
  return out;
}

std::expected<Args, int> ParseCommandArgs(std::string_view command,
                                          const std::vector<std::string>& argv,
                                          const std::set<std::string>& with_value,
                                          std::string_view help) {
  auto args = ParseArgs(argv, with_value, {"help"});
  if (!args) {
    fmt::print(stderr, "abrec {}: {}\n{}", command, args.error().message, help);
    return std::unexpected(2);
  }
  if (args->Has("help")) {
    fmt::print("{}", help);
    return std::unexpected(0);
  }
  return std::move(*args);
}

std::optional<double> NumberOption(const Args& args, const std::string& name, double low,
                                   double high) {
  const auto v = args.Get(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  const double x = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0' || !(x >= low && x <= high)) {
    throw std::invalid_argument(
        fmt::format("--{} must be a number in [{}, {}], got \"{}\"", name, low, high, *v));
  }
  return x;
}

std::optional<std::vector<double>> NumberListOption(const Args& args, const std::string& name,
                                                    double low, double high) {
  const auto v = args.Get(name);
  if (!v) return std::nullopt;
  std::vector<double> out;
  std::stringstream in(*v);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const double x = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(x >= low && x <= high)) {
      throw std::invalid_argument(
          fmt::format("--{} must be a comma-separated list of numbers in [{}, {}], got \"{}\"",
                      name, low, high, *v));
    }
    out.push_back(x);
  }
  return out;
}

}  // namespace abrec
