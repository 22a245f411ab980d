#!/usr/bin/python3
"""The golden workload of the layout move (issue 15): answers of the CLI and of an in-process
scenario, recorded before the move and compared byte for byte after it, with the parts that
differ per run (times, durations, temporary paths, random ids) normalised.

  /usr/bin/python3 tests/golden/golden.py record [BUILD_DIR]   writes tests/golden/answers/
  /usr/bin/python3 tests/golden/golden.py check  [BUILD_DIR]   compares; exit 1 on a difference

BUILD_DIR defaults to build/ (`make golden` runs the check). Recorded from main at the start of
issue 15, with the release build. Covered: validate, hash (v1, v2), assign (text, json), plan,
simulate aa / power / srm, train --format synthetic (its report and metadata.json), an
in-process scenario (config/scenarios/smoke.yaml: training, shadow, A/B test, events through
the platform) and report (json, text, html) over the scenario's database, and the HTTP routes of one service
(http_workload.py: assign, recommend, events with duplicates, a conflict and a late exposure,
covariates, erasure, audit, report, dashboards, alerts). Every command is seeded or
deterministic: the scenario runs on
its manual clock with its own seed (sim/scenario_drivers.cc), the simulation studies and the
synthetic training take their seeds from the options. Standard library only.
"""
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_workload  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSWERS = os.path.join(ROOT, "tests", "golden", "answers")
USERS = [f"user-{i:03d}" for i in range(40)] + ["cust-000001", "ü-utf8", "a b"]

# (pattern, replacement), applied in order to every answer: times of day, measured durations
# (training time, the shadow run's latencies), temporary paths, random ids.
NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
NORMALISE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"), "<time>"),
    (re.compile(r'"(p50_ms|p99_ms|[a-z_]*_seconds|[a-z_]*_us)":\s*' + NUMBER), r'"\1":"<measured>"'),
    (re.compile(NUMBER + r" ms \((p50|p99)\)"), r"<duration> (\1)"),
    (re.compile(r"\b\d+(\.\d+)? (ms|s)\b(?= *\)|$| *,| *:)", re.M), "<duration>"),
    (re.compile(r"in \d+(\.\d+)? (ms|s)\b"), "in <duration>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    # A dashboard bar whose label is a measured duration: its length is measured too.
    (re.compile(r'(<rect class="mark" data-label="[^"]*" data-value=")[^"]*(" x="[^"]*" y="[^"]*"'
                r' width=")[^"]*(" height="[^"]*" fill="[^"]*"><title>[^<]*<duration>)'),
     r"\1<measured>\2<measured>\3"),
    # The latency guardrail's measured figure (report JSON, dashboard table).
    (re.compile(r'("metric": "latency_p99_ms",\s*"value": )' + NUMBER), r"\1<measured>"),
    (re.compile(r'(<td>latency_p99_ms</td><td>[^<]*</td><td class="num">)[^<]*'), r"\1<measured>"),
]


def workload(abrec, ws):
    """(name, argv, stdin-less) of every command, in order; ws is a fresh temporary folder."""
    config = os.path.join(ws, "abrec.yaml")
    exps = os.path.join(ROOT, "config", "experiments")
    yield "validate.txt", [abrec, "validate", os.path.join(ROOT, "config", "abrec.yaml")] + sorted(
        os.path.join(exps, f) for f in os.listdir(exps))
    yield "hash.txt", [abrec, "hash", "--seed", "recsys_v2_hybrid"] + USERS
    yield "hash_v1.txt", [abrec, "hash", "--seed", "recsys_v2_hybrid", "--version", "1"] + USERS
    yield "assign.json", [abrec, "assign", "--experiment", "recsys_v2_hybrid", "--config",
                          config, "--format", "json"] + USERS
    yield "assign.txt", [abrec, "assign", "--experiment", "recsys_v2_hybrid", "--config",
                         config] + USERS[:5]
    yield "plan.json", [abrec, "plan", "recsys_v2_hybrid", "--config", config, "--baseline", "0.04",
                        "--daily-users", "5000", "--format", "json"]
    yield "simulate_aa.json", [abrec, "simulate", "aa", "--runs", "200", "--looks", "10",
                               "--format", "json"]
    yield "simulate_power.json", [abrec, "simulate", "power", "--runs", "200", "--looks", "10",
                                  "--effect", "0.1", "--format", "json"]
    yield "simulate_srm.txt", [abrec, "simulate", "srm", "--runs", "200"]
    yield "train.txt", [abrec, "train", "--format", "synthetic", "--customers", "3000",
                        "--out", os.path.join(ws, "model", "v1")]
    yield "scenario.json", [abrec, "simulate", "scenario",
                            os.path.join(ROOT, "config", "scenarios", "smoke.yaml"),
                            "--dir", os.path.join(ws, "scenario"), "--format", "json"]
    scenario_config = os.path.join(ws, "scenario.yaml")
    yield "report.json", [abrec, "report", "smoke", "--config", scenario_config, "--format", "json"]
    yield "report.txt", [abrec, "report", "smoke", "--config", scenario_config]
    yield "report.html", [abrec, "report", "smoke", "--config", scenario_config, "--format", "html"]


def write_configs(ws):
    """ws/abrec.yaml: the shipped config with its files in ws; ws/scenario.yaml: the same over
    the scenario's folder (written before the scenario runs; read after)."""
    with open(os.path.join(ROOT, "config", "abrec.yaml"), encoding="utf-8") as f:
        text = f.read()

    def pointed(var_dir, exp_dir):
        t = re.sub(r"^(  dir:) *experiments\b", rf"\1 {exp_dir}", text, flags=re.M)
        t = re.sub(r"^(  catalog:) *catalog.yaml\b",
                   rf"\1 {os.path.join(ROOT, 'config', 'catalog.yaml')}", t, flags=re.M)
        t = re.sub(r"^(  ranking:) *ranking.yaml\b",
                   rf"\1 {os.path.join(ROOT, 'config', 'ranking.yaml')}", t, flags=re.M)
        return t.replace("../var/", var_dir + "/")

    with open(os.path.join(ws, "abrec.yaml"), "w", encoding="utf-8") as f:
        f.write(pointed(os.path.join(ws, "var"), os.path.join(ROOT, "config", "experiments")))
    scen = os.path.join(ws, "scenario")
    with open(os.path.join(ws, "scenario.yaml"), "w", encoding="utf-8") as f:
        f.write(pointed(os.path.join(scen, "var"), os.path.join(scen, "experiments")))


def normalise(text, ws):
    text = text.replace(ws, "<ws>").replace(ROOT, "<root>")
    # Days counted back from the real clock (the report's latency window starts 6 days ago);
    # the scenario's own days (from its start date) are kept.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    for back in range(15):
        day = (today - datetime.timedelta(days=back)).isoformat()
        text = re.sub(rf"\b{day}\b(?!T)", f"<today-{back}>", text)
    for pattern, repl in NORMALISE:
        text = pattern.sub(repl, text)
    return text


def run_all(build):
    abrec = os.path.join(build, "abrec")
    answers = {}
    ws = tempfile.mkdtemp(prefix="abrec-golden-")
    try:
        os.makedirs(os.path.join(ws, "var"))
        write_configs(ws)
        for name, argv in workload(abrec, ws):
            r = subprocess.run(argv, capture_output=True, timeout=600, cwd=ROOT)
            out = r.stdout.decode("utf-8", "replace")
            if r.returncode != 0:
                out += f"\n[exit {r.returncode}] " + r.stderr.decode("utf-8", "replace")[-2000:]
            answers[name] = normalise(out, ws)
        with open(os.path.join(ws, "model", "v1", "metadata.json"), encoding="utf-8") as f:
            answers["train_metadata.json"] = normalise(f.read(), ws)
        http = {}
        http_ws = http_workload.run(ROOT, abrec, os.path.join(ws, "model", "v1"), http)
        for name, text in http.items():
            answers[name] = normalise(text.replace(http_ws, "<ws>"), ws)
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    return answers


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("record", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build"))
    answers = run_all(build)
    if sys.argv[1] == "record":
        shutil.rmtree(ANSWERS, ignore_errors=True)
        os.makedirs(ANSWERS)
        for name, text in answers.items():
            with open(os.path.join(ANSWERS, name), "w", encoding="utf-8") as f:
                f.write(text)
        print(f"recorded {len(answers)} answers in {ANSWERS}")
        return 0
    failed = 0
    for name, text in answers.items():
        path = os.path.join(ANSWERS, name)
        try:
            with open(path, encoding="utf-8") as f:
                want = f.read()
        except FileNotFoundError:
            print(f"{name}: no recorded answer")
            failed += 1
            continue
        if want != text:
            failed += 1
            at = next((i for i, (a, b) in enumerate(zip(want, text)) if a != b),
                      min(len(want), len(text)))
            print(f"{name}: differs from character {at} on:\n"
                  f"  recorded: {want[max(0, at - 120):at + 120]!r}\n"
                  f"  now:      {text[max(0, at - 120):at + 120]!r}")
    print(f"{len(answers) - failed} of {len(answers)} answers identical")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
