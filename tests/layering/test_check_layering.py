#!/usr/bin/python3
"""Tests of the layering checker (check_layering.py): it fails on each kind of wrong include,
on a small invented graph and on a copy of the real tree with the real graph, and passes on
the clean versions of both."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "check_layering.py")
SOURCE_DIR = os.environ.get("ABREC_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
GRAPH = os.environ.get("ABREC_MODULE_GRAPH", os.path.join(SOURCE_DIR, "build", "module_graph.json"))


def run(graph_path, root, *extra):
    r = subprocess.run([sys.executable, "-B", CHECKER, graph_path, root, *extra],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def module(sources, deps=(), private_deps=(), internal=()):
    return {"sources": list(sources), "deps": list(deps), "private_deps": list(private_deps),
            "internal": list(internal)}


class InventedGraph(unittest.TestCase):
    """low <- mid <- high; mid keeps mid/impl/ internal; only low may include yaml-cpp."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="abrec-layering-")
        self.graph = {
            "low": module(["low/a.cc"], private_deps=["yaml-cpp"]),
            "mid": module(["mid/b.cc", "mid/impl/c.cc"], deps=["abrec::low"], internal=["mid/impl"]),
            "high": module(["high/d.cc"], private_deps=["abrec::mid"]),
            "top": module(["top/e.cc"], deps=["abrec::high"]),
        }
        self.files = {
            "low/a.h": "#pragma once\n",
            "low/a.cc": '#include "low/a.h"\n#include <yaml-cpp/yaml.h>\n#include <vector>\n',
            "mid/b.h": '#pragma once\n#include "low/a.h"\n',
            "mid/b.cc": '#include "mid/b.h"\n#include "mid/impl/c.h"\n',
            "mid/impl/c.h": "#pragma once\n",
            "mid/impl/c.cc": '#include "mid/impl/c.h"\n',
            "high/d.h": "#pragma once\n",
            "high/d.cc": '#include "high/d.h"\n#include "mid/b.h"\n#include "low/a.h"\n',
            "top/e.cc": '#include "high/d.h"\n',
        }

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def check(self, *extra):
        for rel, text in self.files.items():
            os.makedirs(os.path.join(self.root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(self.root, rel), "w", encoding="utf-8") as f:
                f.write(text)
        path = os.path.join(self.root, "graph.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.graph, f)
        return run(path, self.root, *extra)

    def test_the_clean_tree_passes(self):
        code, out = self.check()
        self.assertEqual(code, 0, out)
        self.assertIn("4 modules", out)

    def test_an_include_against_the_arrows_fails_with_its_position(self):
        self.files["low/a.cc"] += '\n#include "mid/b.h"\n'
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("low/a.cc:5: module low includes mid/b.h of module mid", out)

    def test_a_private_dependency_is_not_passed_on(self):
        # top sees high (DEPS) but high's mid is PRIVATE_DEPS: top may not include it.
        self.files["top/e.cc"] += '#include "mid/b.h"\n'
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("top/e.cc:2: module top includes mid/b.h of module mid", out)

    def test_another_modules_internal_header_fails(self):
        self.files["high/d.cc"] += '#include "mid/impl/c.h"\n'
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("high/d.cc:4: mid/impl/c.h is internal to module mid", out)

    def test_a_header_only_internal_folder_is_its_modules(self):
        # mid/parts/ compiles nothing; mid declares it INTERNAL: mid's sources may include its
        # header, high's may not.
        self.graph["mid"]["internal"].append("mid/parts")
        self.files["mid/parts/p.h"] = "#pragma once\n"
        self.files["mid/b.cc"] += '#include "mid/parts/p.h"\n'
        code, out = self.check()
        self.assertEqual(code, 0, out)
        self.files["high/d.cc"] += '#include "mid/parts/p.h"\n'
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("high/d.cc:4: mid/parts/p.h is internal to module mid", out)

    def test_a_public_header_may_not_include_its_modules_internal_header(self):
        self.files["mid/b.h"] += '#include "mid/impl/c.h"\n'
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("mid/b.h:3: public header mid/b.h includes mid/impl/c.h", out)

    def test_a_third_party_header_needs_its_target(self):
        self.files["high/d.cc"] += "#include <yaml-cpp/yaml.h>\n"
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("high/d.cc:4: module high includes <yaml-cpp/yaml.h> but yaml-cpp", out)

    def test_a_cycle_fails(self):
        self.graph["low"]["deps"].append("abrec::top")
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("the module graph has a cycle", out)

    def test_a_header_of_no_module_fails(self):
        self.files["high/extra/orphan.h"] = "#pragma once\n"
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("high/extra/orphan.h:1: belongs to no module", out)

    def test_the_architecture_page_must_draw_the_graph(self):
        doc = os.path.join(self.root, "architecture.md")
        rows = {"low": "—", "mid": "→ low", "high": "⇢ mid", "top": "→ high"}
        with open(doc, "w", encoding="utf-8") as f:
            f.write("| module | uses |\n|---|---|\n")
            f.write("".join(f"| `{n}` | {u} | x |\n" for n, u in rows.items()))
        code, out = self.check("--doc", doc)
        self.assertEqual(code, 0, out)
        with open(doc, "w", encoding="utf-8") as f:
            f.write("".join(f"| `{n}` | {u} | x |\n" for n, u in rows.items() if n != "top")
                    .replace("⇢ mid", "⇢ mid, low"))
        code, out = self.check("--doc", doc)
        self.assertEqual(code, 1, out)
        self.assertIn("the row of high names ['low', 'mid'], its CMake DEPS ['mid']", out)
        self.assertIn("module top has no row in the table", out)

    def test_the_allowlist_tolerates_listed_crossings_and_only_shrinks(self):
        self.files["low/a.cc"] += '#include "mid/b.h"\n'
        allow = os.path.join(self.root, "allow.txt")
        with open(allow, "w", encoding="utf-8") as f:
            f.write("# comment\nlow/a.cc -> mid/b.h\n")
        code, out = self.check("--allowlist", allow)
        self.assertEqual(code, 0, out)
        self.assertIn("(1 allowlisted)", out)
        with open(allow, "a", encoding="utf-8") as f:
            f.write("top/e.cc -> low/a.h\n")
        code, out = self.check("--allowlist", allow)
        self.assertEqual(code, 1, out)
        self.assertIn("'top/e.cc -> low/a.h' no longer occurs", out)


@unittest.skipUnless(os.path.exists(GRAPH), f"no module graph at {GRAPH} (configure first)")
class RealGraph(unittest.TestCase):
    """The real graph over a copy of the real tree: base may include nothing of the server."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="abrec-layering-real-")
        with open(GRAPH, encoding="utf-8") as f:
            graph = json.load(f)
        for folder in sorted({s.split("/")[0] for m in graph.values() for s in m["sources"]}):
            shutil.copytree(os.path.join(SOURCE_DIR, folder), os.path.join(self.root, folder),
                            ignore=shutil.ignore_patterns("*.txt", "__pycache__"))

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def test_the_copy_passes_and_a_deliberately_wrong_include_fails(self):
        code, out = run(GRAPH, self.root)
        self.assertEqual(code, 0, out)
        path = os.path.join(self.root, "base", "clock.cc")
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        with open(path, "a", encoding="utf-8") as f:
            f.write('#include "server/router.h"  // deliberately wrong\n')
        code, out = run(GRAPH, self.root)
        self.assertEqual(code, 1, out)
        self.assertIn(f"base/clock.cc:{len(lines)}: module base includes server/router.h of "
                      "module server, which is not visible to it", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
