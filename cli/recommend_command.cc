// abrec recommend --model DIR --input FILE --format zimnat|coil|csv --output FILE
#include <chrono>

#include <fmt/format.h>

#include "recommender/portfolio/portfolio_formats.h"
#include "recommender/portfolio/portfolio_model.h"
#include "recommender/portfolio/score_writer.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace abrec {
namespace {

constexpr const char* kHelp =
    R"(usage: abrec recommend --model DIR --input FILE --format zimnat|coil|csv --output FILE

Scores the customers of FILE with the portfolio model in DIR (from `abrec train --format
zimnat|coil|csv`) and writes OUTPUT as CSV:
  zimnat  ID X PCODE,Label              a row per customer and product not held; Label: the
                                        probability that the customer takes it
  coil    customer,score                a row per customer (1-based row of FILE); score: the
                                        probability of owning a caravan policy (FILE:
                                        ticeval2000, or ticdata2000 whose CARAVAN is ignored)
  csv     customer_id,product_id,score  a row per customer and product not held
FILE's products must be the model's (a product the model does not know is an error).
)";

}  // namespace

int RecommendCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("recommend", argv, {"model", "input", "format", "output"}, kHelp);
  if (!args) return args.error();
  const auto model_dir = args->Get("model"), input = args->Get("input"),
             format_name = args->Get("format"), output = args->Get("output");
  if (!model_dir || !input || !format_name || !output || !args->positionals.empty()) {
    fmt::print(stderr, "abrec recommend: give --model, --input, --format and --output\n{}", kHelp);
    return 2;
  }
  const auto format = ParsePortfolioFormat(*format_name);
  if (!format) {
    fmt::print(stderr, "abrec recommend: --format {}: expected zimnat, coil or csv\n",
               *format_name);
    return 2;
  }
  const auto started = std::chrono::steady_clock::now();
  auto model = PortfolioModel::Load(*model_dir);
  if (!model) {
    fmt::print(stderr, "abrec recommend: {}\n", model.error().message);
    return 1;
  }
  fmt::print(stderr, "model {}: {} products\n", model->version(), model->products().size());
  auto portfolio = ImportForScoring(*format, *input, model->products());
  if (!portfolio) {
    fmt::print(stderr, "abrec recommend: {}\n", portfolio.error().message);
    return 1;
  }
  fmt::print(stderr, "input {}: {} customers\n", *input, portfolio->customers.size());
  auto rows = WriteScores(*format, *model, *portfolio, *output);
  if (!rows) {
    fmt::print(stderr, "abrec recommend: {}\n", rows.error().message);
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("scored {} customers in {:.1f} s: {} rows written to {}\n",
             portfolio->customers.size(), seconds, *rows, *output);
  return 0;
}

}  // namespace abrec
