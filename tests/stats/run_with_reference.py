#!/usr/bin/python3
"""Runs the stats test executable (argv[1]) with reference values freshly computed by scipy
and statsmodels (tests/stats/reference.py), passed in ABREC_STATS_REFERENCE."""
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
try:
    import scipy  # noqa: F401
    import statsmodels  # noqa: F401
except ImportError as e:
    sys.exit(f"the statistics tests need scipy and statsmodels under /usr/bin/python3 ({e}); "
             "run scripts/install-deps.sh")
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
    subprocess.run([sys.executable, "-B", os.path.join(here, "reference.py")], stdout=out,
                   check=True)
try:
    env = dict(os.environ, ABREC_STATS_REFERENCE=out.name)
    sys.exit(subprocess.run(sys.argv[1:], env=env).returncode)
finally:
    os.unlink(out.name)
