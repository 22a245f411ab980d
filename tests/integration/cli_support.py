"""What the command-line tests share: the diagnostics' shapes, a valid definition to edit, and
CliTestCase (a temporary workspace per test, the real binary)."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

# FILE:LINE:COL: field: message, where field is a dotted path (with [i] indices).
DIAG_RE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): "
                     r"(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])*(?:\.[A-Za-z0-9_]+(?:\[\d+\])*)*): "
                     r"(?P<message>\S.*)$")
SUMMARY_RE = re.compile(r"^\d+ problems? in \d+ files?$")
LOOSE_DIAG_RE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>\S.*)$")

VALID = """\
experiment: valid_exp
description: a valid experiment
surface: portal_home
owner: pm@example.com
phase: ab_test
traffic:
  coverage: 0.5
  split: {control: 0.5, treatment: 0.5}
namespace: {name: portal_recs, range: [0.0, 0.5]}
variants:
  control:   {policy: legacy_rules}
  treatment: {policy: recommender, model: hybrid}
metrics:
  primary: bind_rate
  secondary: [click_rate, premium_per_user]
  guardrails:
    - {metric: latency_p99_ms, max: 200}
analysis: {alpha: 0.05, sequential: true, tuning_n: 5000, mde: 0.05}
"""


def valid_with(old, new, key="valid_exp"):
    assert old in VALID, old
    return VALID.replace(old, new).replace("valid_exp", key)


class CliTestCase(unittest.TestCase):

    def setUp(self):
        self.ws = h.Workspace()

    def tearDown(self):
        self.ws.cleanup()

    def run_abrec(self, *args):
        return h.run_cli(args, timeout=600, cwd=self.ws.root)  # training under the sanitizers
