#!/usr/bin/python3
"""One markdown row of bench/decision_study.sh's tables from `abrec simulate aa|power
--format json` on stdin: `decision_table.py aa LABEL` or `decision_table.py power LABEL RUNS`."""
import json
import sys


def rate(r):
    return "%.4f (%.4f)" % (r["rate"], r["se"])


def aa(label, doc):
    d = doc["decisions"]
    first5 = sum(d["by_look"][4]["ever"][c] for c in ("ship", "clickbait", "stop_guardrail"))
    c = d["comparison"]
    cells = [label, str(d["runs"]), "**%s**" % rate(d["wrong_decision"]), rate(d["ever"]["ship"]),
             rate(d["ever"]["clickbait"]), rate(d["ever"]["stop_guardrail"]), "%.4f" % first5,
             rate(d["ever"]["untrustworthy_srm"]), "%.4f" % c["delta_relative_sequential"],
             "%.4f" % c["fixed_horizon_peeking"]]
    print("| " + " | ".join(cells) + " |")


def power(label, runs, doc):
    rows = doc["rows"]
    shipped = ["%.3f (%.3f)" % (r["shipped_effect"]["rate"], r["shipped_effect"]["se"]) for r in rows]
    cells = [label, runs, "%.0f" % rows[0]["planned_users_per_arm"]] + shipped + [
        "%.2f" % rows[-1]["median_users_fraction_at_ship"]]
    print("| " + " | ".join(cells) + " |")


doc = json.loads(sys.stdin.read())
if sys.argv[1] == "aa":
    aa(sys.argv[2], doc)
else:
    power(sys.argv[2], sys.argv[3], doc)
