#!/usr/bin/python3
"""The command line's training: `abrec train` (synthetic, from events) and the portfolio
commands (Zimnat, CoIL, CSV: train, recommend, evaluate)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402,F401
from cli_support import CliTestCase  # noqa: E402


class TrainCommandTest(CliTestCase):
    """abrec train --format synthetic: a model folder with its evaluation."""

    def test_synthetic_training_writes_a_model_folder(self):
        out = os.path.join(self.ws.root, "model")
        catalog = os.path.join(h.SOURCE_DIR, "config", "catalog.yaml")
        r = self.run_abrec("train", "--format", "synthetic", "--out", out, "--customers", "3000",
                           "--catalog", catalog, "--mf-epochs", "12", "--gbm-rounds", "60")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("P(click):        AUC", r.stdout.decode())
        self.assertIn("factorisation:", r.stderr.decode())  # progress lines
        self.assertEqual(sorted(os.listdir(out)),
                         ["bind.json", "click.json", "legacy_rules.json", "metadata.json",
                          "mf.bin"])
        with open(os.path.join(out, "metadata.json")) as f:
            meta = json.load(f)
        self.assertGreater(meta["evaluation"]["click_auc"], 0.6)
        self.assertIn("hit@1", r.stdout.decode())
        ranking = meta["evaluation"]["ranking"]
        self.assertGreater(ranking["model"]["hit_at_1"], ranking["popularity"]["hit_at_1"])
        self.assertEqual(set(ranking["by_group"]["sex"]), {"F", "M"})
        self.assertIn("ece", meta["evaluation"]["probabilities"]["click"]["raw"])
        self.assertEqual(meta["data"], {"format": "synthetic", "customers": 3000,
                                        "seed": 20261129})
        self.assertEqual(meta["parameters"]["mf_epochs"], 12)
        self.assertEqual(meta["parameters"]["gbm_rounds"], 60)
        again = self.run_abrec("train", "--format", "synthetic", "--out", out, "--catalog",
                               catalog)
        self.assertEqual(again.returncode, 1)
        self.assertIn("exists: choose a new folder", again.stderr.decode())

    def test_the_gate_refuses_a_biased_model_and_passes_a_fair_one(self):
        catalog = os.path.join(h.SOURCE_DIR, "config", "catalog.yaml")
        models = {}
        for name, extra in (("fair", []), ("fair2", ["--seed", "7"]),
                            ("biased", ["--withhold-from-women", "auto"])):
            models[name] = os.path.join(self.ws.root, name)
            r = self.run_abrec("train", "--format", "synthetic", "--out", models[name],
                               "--customers", "4000", "--catalog", catalog, *extra)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
        common = ["--catalog", catalog,
                  "--ranking", os.path.join(h.SOURCE_DIR, "config", "ranking.yaml"),
                  "--rules", os.path.join(h.SOURCE_DIR, "config", "gate.yaml"),
                  "--customers", "3000"]
        r = self.run_abrec("gate", "--candidate", models["biased"], "--baseline", models["fair"],
                           *common)
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        out = r.stdout.decode()
        self.assertIn("REFUSED", out)
        self.assertRegex(out, r"parity: auto_\w+ is recommended to sex [\d.]+% of M and [\d.]+% of F")
        r = self.run_abrec("gate", "--candidate", models["fair2"], "--baseline", models["fair"],
                           *common, "--format", "json")
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        doc = json.loads(r.stdout)
        self.assertTrue(doc["passed"])
        self.assertEqual(doc["failures"], [])
        r = self.run_abrec("gate", "--candidate", models["fair2"])
        self.assertEqual(r.returncode, 2)

    def test_bad_arguments(self):
        r = self.run_abrec("train", "--format", "zimnat", "--out", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--format zimnat needs --data FILE", r.stderr.decode())
        r = self.run_abrec("train", "--format", "parquet", "--out", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected synthetic, zimnat, coil or csv", r.stderr.decode())
        r = self.run_abrec("train", "--out", "x")
        self.assertEqual(r.returncode, 2)
        r = self.run_abrec("train", "--format", "synthetic", "--out", "x", "--customers", "5")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--customers must be a number in [100,", r.stderr.decode())
        r = self.run_abrec("train", "--format", "synthetic", "--out", "x", "--gbm-rounds", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--gbm-rounds must be a number in [1,", r.stderr.decode())
        r = self.run_abrec("train", "--format", "csv", "--data", "x.csv", "--out", "x",
                           "--mf-epochs", "3")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--gbm-rounds and --target go with --format synthetic only",
                      r.stderr.decode())
        r = self.run_abrec("train", "--format", "synthetic", "--out", "x", "--target", "views")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--target views: expected click, bind or balanced", r.stderr.decode())


def portfolio_csv(customers=120, seed=5):
    """abrec's portfolio CSV with structure to learn: home follows motor, travel favours
    women, funeral one region."""
    import random
    rng = random.Random(seed)
    lines = ["customer_id,age,sex,region,occupation,holdings"]
    for i in range(customers):
        sex = rng.choice("FM")
        region = rng.choice(["north", "south", "east"])
        motor = rng.random() < 0.6
        held = ["motor"] if motor else []
        for name, p in (("home", 0.7 if motor else 0.15), ("travel", 0.5 if sex == "F" else 0.1),
                        ("funeral", 0.6 if region == "south" else 0.05), ("life", 0.2)):
            if rng.random() < p:
                held.append(name)
        lines.append(f"c{i:04d},{rng.randint(20, 69)},{sex},{region},clerk,{';'.join(held)}")
    return "\n".join(lines) + "\n"


class PortfolioCommandTest(CliTestCase):
    """abrec train --format csv and abrec recommend --format csv on a small generated file."""

    def write(self, name, text):
        path = os.path.join(self.ws.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_train_then_recommend(self):
        data = self.write("portfolio.csv", portfolio_csv())
        model = os.path.join(self.ws.root, "model")
        r = self.run_abrec("train", "--format", "csv", "--data", data, "--out", model,
                           "--seed", "7")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("hidden product: hit@1", r.stdout.decode())
        self.assertIn("ranker rows:", r.stderr.decode())  # progress lines
        self.assertEqual(sorted(os.listdir(model)), ["metadata.json", "mf.bin", "ranker.json"])
        with open(os.path.join(model, "metadata.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["kind"], "portfolio")
        self.assertEqual(meta["data"]["format"], "csv")
        self.assertEqual(meta["products"], ["funeral", "home", "life", "motor", "travel"])
        self.assertEqual(meta["parameters"]["seed"], 7)
        self.assertIn("sex=F", meta["evaluation"]["by_group"])
        self.assertGreater(meta["evaluation"]["hit_at_3"], 0.5)

        out = os.path.join(self.ws.root, "scores.csv")
        r = self.run_abrec("recommend", "--model", model, "--input", data, "--format", "csv",
                           "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("scored 120 customers", r.stdout.decode())
        with open(out) as f:
            rows = f.read().splitlines()
        self.assertEqual(rows[0], "customer_id,product_id,score")
        held = {line.split(",")[0]: set(filter(None, line.split(",")[5].split(";")))
                for line in portfolio_csv().splitlines()[1:]}
        self.assertEqual(len(rows) - 1, sum(5 - len(h) for h in held.values()))
        for row in rows[1:]:
            customer, product, score = row.split(",")
            self.assertNotIn(product, held[customer])
            self.assertTrue(0 < float(score) < 1, row)

        # A product the model does not know, and a model folder that is not one.
        bad = self.write("unknown.csv", "customer_id,age,sex,region,occupation,holdings\n"
                                        "x1,40,F,north,clerk,motor;boat\n")
        r = self.run_abrec("recommend", "--model", model, "--input", bad, "--format", "csv",
                           "--output", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{bad}:2:27: holdings: product \"boat\" is not one of the model's 5 "
                      "products", r.stderr.decode())
        r = self.run_abrec("recommend", "--model", self.ws.root, "--input", data, "--format",
                           "csv", "--output", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("metadata.json", r.stderr.decode())

    def test_bad_csv_is_reported_with_file_line_col(self):
        text = portfolio_csv(20).splitlines()
        text[3] = "c0002,4x,F,north,clerk,motor"
        data = self.write("bad.csv", "\n".join(text) + "\n")
        model = os.path.join(self.ws.root, "model")
        r = self.run_abrec("train", "--format", "csv", "--data", data, "--out", model)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertIn(f"{data}:4:7: age: expected empty or a whole number 0 to 120, got \"4x\"",
                      r.stderr.decode())
        self.assertFalse(os.path.exists(model))
        r = self.run_abrec("recommend", "--model", model, "--input", data, "--format", "csv")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
