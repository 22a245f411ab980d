#include "recommender/data/catalog.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "configtree/schema_reader.h"

namespace abrec {

bool Eligible(const Product& p, std::optional<int> age) {
  const Eligibility& e = p.eligibility;
  if (!age) return !e.min_age && !e.max_age;
  return (!e.min_age || *age >= *e.min_age) && (!e.max_age || *age <= *e.max_age);
}

void Catalog::Index() {
  ids.clear();
  category_codes.clear();
  std::map<std::string, int> codes;
  for (std::size_t i = 0; i < products.size(); ++i) {
    ids.emplace(products[i].id, i);
    category_codes.push_back(
        codes.emplace(products[i].category, static_cast<int>(codes.size())).first->second);
  }
}

std::optional<std::size_t> Catalog::IndexOf(std::string_view id) const {
  if (const auto it = ids.find(id);
      it != ids.end() && it->second < products.size() && products[it->second].id == id) {
    return it->second;
  }
  for (std::size_t i = 0; i < products.size(); ++i) {
    if (products[i].id == id) return i;
  }
  return std::nullopt;
}

namespace {

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

ParseResult<Catalog> ReadCatalog(const ConfigNode& root, const std::string& file) {
  SchemaReader r(file);
  Catalog c;
  if (!r.CheckMap(root, "", {"products"})) return std::unexpected(r.TakeDiagnostics());
  const ConfigNode* list = root.Find("products");
  if (!list || !list->IsSequence() || list->items.empty()) {
    r.Error(list ? *list : root, "products", "expected a non-empty list of products");
    return std::unexpected(r.TakeDiagnostics());
  }
  std::map<std::string, int> seen;  // id -> line
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const ConfigNode& n = list->items[i];
    const std::string at = fmt::format("products[{}]", i);
    if (!r.CheckMap(n, at, {"id", "name", "category", "annual_premium", "margin", "eligibility"})) {
      continue;
    }
    Product p;
    p.line = n.line;
    auto field = [&](std::string_view key) { return JoinField(at, key); };
    if (const auto* v = n.Find("id")) {
      if (auto s = r.String(*v, field("id"))) {
        if (!ValidId(*s)) {
          r.Error(*v, field("id"),
                  fmt::format("\"{}\" is not a product id: use 1 to 64 of a-z, 0-9 and _", *s));
        } else if (auto [it, fresh] = seen.emplace(*s, v->line); !fresh) {
          r.Error(*v, field("id"),
                  fmt::format("duplicate product id \"{}\": already defined on line {}", *s,
                              it->second));
        }
        p.id = *s;
      }
    } else {
      r.Missing(n, field("id"), "a product id");
    }
    for (const auto& [key, target] :
         {std::pair{"name", &p.name}, std::pair{"category", &p.category}}) {
      if (const auto* v = n.Find(key)) {
        if (auto s = r.String(*v, field(key))) *target = *s;
      } else {
        r.Missing(n, field(key), key);
      }
    }
    if (const auto* v = n.Find("annual_premium")) {
      if (auto x = r.Number(*v, field("annual_premium"), 0.01, 1e6)) {
        p.annual_premium_cents = std::llround(*x * 100);
      }
    } else {
      r.Missing(n, field("annual_premium"), "the annual premium");
    }
    if (const auto* v = n.Find("margin")) {
      if (auto x = r.Number(*v, field("margin"), 0, 1)) p.margin = *x;
    } else {
      r.Missing(n, field("margin"), "the margin (share of the premium, 0 to 1)");
    }
    if (const auto* e = n.Find("eligibility")) {
      if (r.CheckMap(*e, field("eligibility"), {"min_age", "max_age"})) {
        for (const auto& [key, target] : {std::pair{"min_age", &p.eligibility.min_age},
                                          std::pair{"max_age", &p.eligibility.max_age}}) {
          if (const auto* v = e->Find(key)) {
            if (auto x = r.Integer(*v, JoinField(field("eligibility"), key), 0, 120)) {
              *target = static_cast<int>(*x);
            }
          }
        }
        if (p.eligibility.min_age && p.eligibility.max_age &&
            *p.eligibility.min_age > *p.eligibility.max_age) {
          r.Error(*e, field("eligibility"),
                  fmt::format("min_age {} is above max_age {}: nobody could have it",
                              *p.eligibility.min_age, *p.eligibility.max_age));
        }
      }
    }
    c.products.push_back(std::move(p));
  }
  if (!r.ok()) return std::unexpected(r.TakeDiagnostics());
  c.Index();
  return c;
}

ParseResult<Catalog> LoadCatalog(const std::string& path) {
  // A product takes about 150 bytes of YAML, so 10,000 products (DESIGN.md's large-catalog
  // target) need 1.5 MB, past the 1 MiB of other config files; 32 MiB allows ~200,000.
  auto tree = ParseConfigFile(path, ParseLimits{.max_bytes = std::size_t{32} << 20});
  if (!tree) return std::unexpected(std::move(tree.error()));
  return ReadCatalog(*tree, path);
}

}  // namespace abrec
