#include "server/http/body_budget.h"

#include <utility>

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("shares of the body budget are taken while there is room and given back") {
  BodyBudget budget(100);
  auto a = budget.Open();
  auto b = budget.Open();
  CHECK(a.Grow(60));
  CHECK_FALSE(b.Grow(41));  // nothing taken on refusal
  CHECK(b.bytes() == 0);
  CHECK(b.Grow(40));
  CHECK(budget.in_use() == 100);
  CHECK_FALSE(b.Grow(1));
  CHECK(b.Grow(0));
  CHECK_FALSE(a.Grow(~std::uint64_t{0}));  // no overflow past the capacity
  a.Release();
  CHECK(budget.in_use() == 40);
  CHECK(a.Grow(30));
  CHECK(a.Grow(30));
  CHECK(a.bytes() == 60);
  {
    auto moved = std::move(b);  // the share moves; the budget is released once
    CHECK(budget.in_use() == 100);
  }
  CHECK(budget.in_use() == 60);
  b.Release();
  CHECK(budget.in_use() == 60);
  a = budget.Open();  // assigning over a share releases what it held
  CHECK(budget.in_use() == 0);
  CHECK_FALSE(BodyBudget::Share().Grow(1));
}

}  // namespace abrec
