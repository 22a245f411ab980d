#!/usr/bin/python3
"""The reference for bench/stats_bench.cc: the same tests with scipy and statsmodels (what an
analyst's notebook, or GrowthBook's Python stats engine, runs), microseconds per call."""
import timeit

setup = """
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest, confint_proportions_2indep
"""
rows = [
    ("proportions_ztest (pooled z, bind rate)",
     "proportions_ztest([3780, 3600], [90000, 90000])"),
    ("confint_proportions_2indep (its interval)",
     "confint_proportions_2indep(3780, 90000, 3600, 90000, method='wald', compare='diff')"),
    ("ttest_ind_from_stats (Welch, premium per user)",
     "stats.ttest_ind_from_stats(512.0, 2100.0, 90000, 498.0, 2080.0, 90000, equal_var=False)"),
    ("chisquare (SRM over 4 buckets)",
     "stats.chisquare([10000, 10000, 90000, 90000], [10000, 10000, 90000, 90000])"),
]
print("stats reference: scipy/statsmodels under /usr/bin/python3, microseconds per call")
for name, stmt in rows:
    timer = timeit.Timer(stmt, setup=setup)
    n, _ = timer.autorange()
    best = min(timer.repeat(3, n)) / n
    print(f"{name:<60} {best * 1e6:12.1f}")
