#include "recommender/portfolio/portfolio.h"

#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

namespace abrec {
namespace {

// The CoIL 2000 column names (UCI dictionary): 43 socio-demographic, 21 contribution
// levels (P...), 21 policy counts (A...), CARAVAN.
constexpr std::array<std::string_view, 86> kCoilColumns = {
    "MOSTYPE",  "MAANTHUI", "MGEMOMV",  "MGEMLEEF", "MOSHOOFD", "MGODRK",   "MGODPR",   "MGODOV",
    "MGODGE",   "MRELGE",   "MRELSA",   "MRELOV",   "MFALLEEN", "MFGEKIND", "MFWEKIND", "MOPLHOOG",
    "MOPLMIDD", "MOPLLAAG", "MBERHOOG", "MBERZELF", "MBERBOER", "MBERMIDD", "MBERARBG", "MBERARBO",
    "MSKA",     "MSKB1",    "MSKB2",    "MSKC",     "MSKD",     "MHHUUR",   "MHKOOP",   "MAUT1",
    "MAUT2",    "MAUT0",    "MZFONDS",  "MZPART",   "MINKM30",  "MINK3045", "MINK4575", "MINK7512",
    "MINK123M", "MINKGEM",  "MKOOPKLA", "PWAPART",  "PWABEDR",  "PWALAND",  "PPERSAUT", "PBESAUT",
    "PMOTSCO",  "PVRAAUT",  "PAANHANG", "PTRACTOR", "PWERKT",   "PBROM",    "PLEVEN",   "PPERSONG",
    "PGEZONG",  "PWAOREG",  "PBRAND",   "PZEILPL",  "PPLEZIER", "PFIETS",   "PINBOED",  "PBYSTAND",
    "AWAPART",  "AWABEDR",  "AWALAND",  "APERSAUT", "ABESAUT",  "AMOTSCO",  "AVRAAUT",  "AAANHANG",
    "ATRACTOR", "AWERKT",   "ABROM",    "ALEVEN",   "APERSONG", "AGEZONG",  "AWAOREG",  "ABRAND",
    "AZEILPL",  "APLEZIER", "AFIETS",   "AINBOED",  "ABYSTAND", "CARAVAN"};

constexpr std::array<std::string_view, 8> kZimnatAttributes = {"ID",
                                                               "join_date",
                                                               "sex",
                                                               "marital_status",
                                                               "birth_year",
                                                               "branch_code",
                                                               "occupation_code",
                                                               "occupation_category_code"};

// Splits a line at `sep`, keeping each field's 1-based starting column.
std::vector<std::pair<std::string_view, int>> Split(std::string_view line, char sep) {
  std::vector<std::pair<std::string_view, int>> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = line.find(sep, start);
    out.emplace_back(line.substr(start, end - start), static_cast<int>(start) + 1);
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

Error At(const std::string& path, std::size_t line, int column, std::string_view field,
         const std::string& message) {
  return Error::InvalidArgument(fmt::format("{}:{}:{}: {}: {}", path, line, column, field, message),
                                std::string(field));
}

// Opens a file within the limits; calls `row(line_number, text)` for every line (CR
// stripped), stopping at the first error.
template <typename Row>
Result<void> ForEachLine(const std::string& path, const ImportLimits& limits, Row row) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot read {}", path), "data"});
  if (size > limits.max_bytes) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} is {} bytes, over the {}-byte limit", path, size, limits.max_bytes),
        "data"));
  }
  std::ifstream in(path, std::ios::binary);
  std::string text;
  for (std::size_t n = 1; std::getline(in, text); ++n) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.size() > limits.max_line) {
      return std::unexpected(
          At(path, n, 1, "line",
             fmt::format("{} characters, over the {} limit", text.size(), limits.max_line)));
    }
    if (text.empty()) continue;
    if (auto ok = row(n, std::string_view(text)); !ok) return ok;
  }
  return {};
}

std::optional<int> Int(std::string_view s) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<Portfolio> ImportZimnat(const std::string& path, const ImportLimits& limits) {
  Portfolio p;
  std::size_t columns = 0;
  auto ok = ForEachLine(path, limits, [&](std::size_t n, std::string_view line) -> Result<void> {
    const auto fields = Split(line, ',');
    if (n == 1) {
      for (std::size_t i = 0; i < kZimnatAttributes.size(); ++i) {
        if (i >= fields.size() || fields[i].first != kZimnatAttributes[i]) {
          return std::unexpected(At(path, 1, i < fields.size() ? fields[i].second : 1, "header",
                                    fmt::format("expected column {} to be \"{}\" (the Zimnat "
                                                "format)",
                                                i + 1, kZimnatAttributes[i])));
        }
      }
      for (std::size_t i = kZimnatAttributes.size(); i < fields.size(); ++i) {
        p.products.emplace_back(fields[i].first);
      }
      columns = fields.size();
      if (p.products.empty()) {
        return std::unexpected(At(path, 1, 1, "header", "no product columns after the attributes"));
      }
      return {};
    }
    if (fields.size() != columns) {
      return std::unexpected(At(
          path, n, 1, "row", fmt::format("{} fields, the header has {}", fields.size(), columns)));
    }
    if (fields[0].first.empty()) {  // found by fuzz/portfolio_fuzz.cc
      return std::unexpected(At(path, n, 1, "ID", "the customer id is empty"));
    }
    PortfolioCustomer c;
    c.id = std::string(fields[0].first);
    for (std::size_t i = 1; i < kZimnatAttributes.size(); ++i) {
      c.attributes[std::string(kZimnatAttributes[i])] = std::string(fields[i].first);
    }
    const auto birth = Int(fields[4].first);
    if (!birth || *birth < 1900 || *birth > 2030) {
      return std::unexpected(At(path, n, fields[4].second, "birth_year",
                                fmt::format("expected a year, got \"{}\"", fields[4].first)));
    }
    // join_date is d/m/yyyy: the age at joining.
    const std::string_view join = fields[1].first;
    const auto slash = join.rfind('/');
    const auto year = slash == std::string_view::npos ? std::nullopt : Int(join.substr(slash + 1));
    if (year && *year >= *birth) c.age = *year - *birth;
    for (std::size_t i = kZimnatAttributes.size(); i < fields.size(); ++i) {
      const auto v = Int(fields[i].first);
      if (!v || (*v != 0 && *v != 1)) {
        return std::unexpected(At(path, n, fields[i].second,
                                  p.products[i - kZimnatAttributes.size()],
                                  fmt::format("expected 0 or 1, got \"{}\"", fields[i].first)));
      }
      c.holds.push_back(*v == 1);
    }
    p.customers.push_back(std::move(c));
    return {};
  });
  if (!ok) return std::unexpected(ok.error());
  if (p.products.empty()) {
    return std::unexpected(At(path, 1, 1, "header", "the file is empty"));
  }
  return p;
}

Result<Portfolio> ImportCoil(const std::string& path, bool with_target,
                             const ImportLimits& limits) {
  Portfolio p;
  constexpr std::size_t kAttributes = 43, kCountsFrom = 64, kCounts = 21;
  for (std::size_t i = 0; i < kCounts; ++i) p.products.emplace_back(kCoilColumns[kCountsFrom + i]);
  if (with_target) p.products.emplace_back("CARAVAN");
  const std::size_t columns = with_target ? 86 : 85;
  auto ok = ForEachLine(path, limits, [&](std::size_t n, std::string_view line) -> Result<void> {
    const auto fields = Split(line, '\t');
    if (fields.size() != columns) {
      return std::unexpected(
          At(path, n, 1, "row",
             fmt::format("{} tab-separated fields, the {} file has {}", fields.size(),
                         with_target ? "training" : "evaluation", columns)));
    }
    PortfolioCustomer c;
    c.id = fmt::format("coil-{:05}", n);
    for (std::size_t i = 0; i < columns; ++i) {
      const auto v = Int(fields[i].first);
      if (!v || *v < 0 || *v > 99) {
        return std::unexpected(
            At(path, n, fields[i].second, kCoilColumns[i],
               fmt::format("expected a small non-negative integer, got \"{}\"", fields[i].first)));
      }
      if (i < kAttributes)
        c.attributes[std::string(kCoilColumns[i])] = std::string(fields[i].first);
      if ((i >= kCountsFrom && i < kCountsFrom + kCounts) || i == 85) c.holds.push_back(*v > 0);
    }
    p.customers.push_back(std::move(c));
    return {};
  });
  if (!ok) return std::unexpected(ok.error());
  return p;
}

}  // namespace abrec
