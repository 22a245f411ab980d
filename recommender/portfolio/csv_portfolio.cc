#include "recommender/portfolio/csv_portfolio.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace abrec {
namespace {

constexpr std::size_t kColumns = 6;
constexpr std::size_t kMaxToken = 64;
constexpr std::string_view kNames[kColumns] = {"customer_id", "age",        "sex",
                                               "region",      "occupation", "holdings"};

struct Field {
  std::string_view text;
  int column = 1;  // 1-based byte offset in the line
};

std::vector<Field> SplitAt(std::string_view line, char sep, int first_column = 1) {
  std::vector<Field> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = line.find(sep, start);
    out.push_back({line.substr(start, end - start), first_column + static_cast<int>(start)});
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

bool IsIdChar(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || (allow_colon && c == ':');
}

bool IsId(std::string_view s, bool allow_colon) {
  return !s.empty() && s.size() <= kMaxToken &&
         std::all_of(s.begin(), s.end(), [&](char c) { return IsIdChar(c, allow_colon); });
}

class Reader {
 public:
  Reader(const std::string& path, const CsvImportOptions& o) : path_(path), o_(o) {
    for (std::size_t i = 0; i < o.products.size(); ++i) known_[o.products[i]] = i;
  }

  Result<Portfolio> Read() {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    if (ec) return Fail(Error{ErrorCode::kIo, fmt::format("cannot read {}", path_), "data"});
    if (size > o_.limits.max_bytes) {
      return Fail(Error::InvalidArgument(
          fmt::format("{} is {} bytes, over the {}-byte limit", path_, size, o_.limits.max_bytes),
          "data"));
    }
    std::ifstream in(path_, std::ios::binary);
    if (!in) return Fail(Error{ErrorCode::kIo, fmt::format("cannot read {}", path_), "data"});
    std::string text;
    bool header = true;
    for (std::size_t n = 1; std::getline(in, text); ++n) {
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.size() > o_.limits.max_line) {
        return Fail(
            At(n, 1, "line",
               fmt::format("{} characters, over the {} limit", text.size(), o_.limits.max_line)));
      }
      if (header) {
        if (text != kCsvPortfolioHeader) return Fail(BadHeader(n, text));
        header = false;
        continue;
      }
      if (text.empty()) continue;
      if (auto ok = Row(n, text); !ok) return Fail(ok.error());
    }
    if (header) return Fail(At(1, 1, "header", "the file is empty"));
    if (rows_.empty()) return Fail(At(2, 1, "row", "no customers after the header"));
    return Finish();
  }

 private:
  struct Parsed {
    PortfolioCustomer customer;
    std::vector<std::string> holdings;
  };

  static Result<Portfolio> Fail(Error e) { return std::unexpected(std::move(e)); }

  Error At(std::size_t line, int column, std::string_view field, const std::string& message) const {
    return Error::InvalidArgument(
        fmt::format("{}:{}:{}: {}: {}", path_, line, column, field, message), std::string(field));
  }

  Error BadHeader(std::size_t line, std::string_view text) const {
    const auto fields = SplitAt(text, ',');
    for (std::size_t i = 0; i < kColumns; ++i) {
      if (i >= fields.size() || fields[i].text != kNames[i]) {
        return At(line, i < fields.size() ? fields[i].column : static_cast<int>(text.size()) + 1,
                  "header",
                  fmt::format("expected \"{}\" (column {} of the header \"{}\")", kNames[i], i + 1,
                              kCsvPortfolioHeader));
      }
    }
    return At(line, fields[kColumns].column - 1, "header",
              fmt::format("expected exactly the header \"{}\"", kCsvPortfolioHeader));
  }

  Result<void> Row(std::size_t n, std::string_view line) {
    if (const auto quote = line.find('"'); quote != std::string_view::npos) {
      return std::unexpected(At(n, static_cast<int>(quote) + 1, "row",
                                "quoted fields are not supported (no field may hold , or \")"));
    }
    const auto f = SplitAt(line, ',');
    if (f.size() != kColumns) {
      return std::unexpected(
          At(n, f.size() > kColumns ? f[kColumns].column : static_cast<int>(line.size()) + 1, "row",
             fmt::format("{} fields, the header has {}", f.size(), kColumns)));
    }
    Parsed p;
    if (!IsId(f[0].text, true)) {
      return std::unexpected(
          At(n, f[0].column, "customer_id", "expected 1 to 64 characters of A-Z a-z 0-9 _ . : -"));
    }
    p.customer.id = std::string(f[0].text);
    if (const auto [it, added] = lines_.emplace(p.customer.id, n); !added) {
      return std::unexpected(
          At(n, f[0].column, "customer_id",
             fmt::format("customer \"{}\" already appears on line {}", p.customer.id, it->second)));
    }
    if (!f[1].text.empty()) {
      int age = -1;
      const auto [end, ec] =
          std::from_chars(f[1].text.data(), f[1].text.data() + f[1].text.size(), age);
      if (ec != std::errc() || end != f[1].text.data() + f[1].text.size() || age < 0 || age > 120) {
        return std::unexpected(
            At(n, f[1].column, "age",
               fmt::format("expected empty or a whole number 0 to 120, got \"{}\"", f[1].text)));
      }
      p.customer.age = age;
    }
    for (std::size_t i = 2; i <= 4; ++i) {
      if (f[i].text.size() > kMaxToken) {
        return std::unexpected(
            At(n, f[i].column, kNames[i], fmt::format("longer than {} characters", kMaxToken)));
      }
      if (!f[i].text.empty()) p.customer.attributes[std::string(kNames[i])] = f[i].text;
    }
    if (!f[5].text.empty()) {
      std::set<std::string_view> seen;
      for (const Field& h : SplitAt(f[5].text, ';', f[5].column)) {
        if (!IsId(h.text, false)) {
          return std::unexpected(At(n, h.column, "holdings",
                                    fmt::format("expected a product id (1 to 64 characters of "
                                                "A-Z a-z 0-9 _ . -), got \"{}\"",
                                                h.text)));
        }
        if (!seen.insert(h.text).second) {
          return std::unexpected(
              At(n, h.column, "holdings", fmt::format("product \"{}\" listed twice", h.text)));
        }
        if (!known_.empty() && !known_.contains(std::string(h.text))) {
          return std::unexpected(
              At(n, h.column, "holdings",
                 fmt::format("product \"{}\" is not one of the model's {} products", h.text,
                             known_.size())));
        }
        p.holdings.emplace_back(h.text);
      }
    }
    rows_.push_back(std::move(p));
    return {};
  }

  Result<Portfolio> Finish() {
    Portfolio out;
    if (known_.empty()) {
      std::set<std::string> ids;
      for (const Parsed& p : rows_) ids.insert(p.holdings.begin(), p.holdings.end());
      out.products.assign(ids.begin(), ids.end());
      for (std::size_t i = 0; i < out.products.size(); ++i) known_[out.products[i]] = i;
      if (out.products.empty()) {
        return Fail(At(2, 1, "holdings", "no customer holds any product: nothing to learn from"));
      }
    } else {
      out.products = o_.products;
    }
    for (Parsed& p : rows_) {
      p.customer.holds.assign(out.products.size(), false);
      for (const std::string& h : p.holdings) p.customer.holds[known_.at(h)] = true;
      out.customers.push_back(std::move(p.customer));
    }
    return out;
  }

  const std::string& path_;
  const CsvImportOptions& o_;
  std::map<std::string, std::size_t> known_;  // product id → index
  std::map<std::string, std::size_t> lines_;  // customer id → line
  std::vector<Parsed> rows_;
};

}  // namespace

Result<Portfolio> ImportCsvPortfolio(const std::string& path, const CsvImportOptions& options) {
  return Reader(path, options).Read();
}

}  // namespace abrec
