#!/usr/bin/python3
"""Generate family_intervals.json: the intervals a verdict over two
treatments decides on, at level 1 - alpha/2 (Bonferroni over the
treatments), for cases where the 1 - alpha interval of one comparison would
decide and the family's does not.

Run with Debian's python (python3-scipy):

    /usr/bin/python3 experiment/testdata/gen_family_intervals.py

Each case is one relative effect (estimate, standard error) of a treatment
against control, 1,000 users per arm (2,000 units: the confidence
sequence's time), alpha = 0.05 two-sided. Fixed-horizon intervals use
scipy's normal quantile; sequential ones the asymptotic confidence sequence
of Waudby-Smith et al. (2021), Theorem 2.2, tuned at alpha for 10,000
units, read at alpha/2 (the formula in stats/sequential.go). The standard
error is chosen between the two bounds' reach so that the 95% interval
decides (below the minimum effect, the wrong way, a guardrail within its
tolerance) and the 97.5% interval does not.
"""

import json
import math
import os

import scipy
import scipy.stats as st

ALPHA, K, TUNING, UNITS = 0.05, 2, 10000.0, 2000.0
MIN_EFFECT, TOLERANCE = 0.02, 0.05


def seq_mult(a):
    l = 2 * math.log(1 / ALPHA)
    tr = UNITS * (l + math.log1p(l)) / TUNING
    return math.sqrt(2 * (tr + 1) / tr * (0.5 * math.log1p(tr) - math.log(a)))


def seq_p(z):
    l = 2 * math.log(1 / ALPHA)
    tr = UNITS * (l + math.log1p(l)) / TUNING
    return min(1.0, math.sqrt(tr + 1) * math.exp(-z * z * tr / (2 * (tr + 1))))


def mults(inference):
    if inference == "fixed":
        return st.norm.ppf(1 - ALPHA / 2), st.norm.ppf(1 - ALPHA / (2 * K))
    return seq_mult(ALPHA), seq_mult(ALPHA / K)


cases = []
for inference in ("fixed", "sequential"):
    m1, mk = mults(inference)
    # (name, role, estimate, the hypothesis' minimum effect, the bound's
    # target: est + m*se = target). The wrong way is tested with a minimum
    # effect of 0, so that the upper bound's side of zero alone decides.
    for name, role, est, minimum, target in [
        ("below the minimum effect", "primary", 0.008, MIN_EFFECT, MIN_EFFECT),
        ("the wrong way", "primary", -0.01, 0.0, 0.0),
        ("guardrail within its tolerance", "guardrail", 0.0, MIN_EFFECT, TOLERANCE),
    ]:
        reach = target - est
        se = reach / ((m1 + mk) / 2)  # m1*se < reach < mk*se
        assert est + m1 * se < target < est + mk * se
        z = est / se
        cases.append({
            "name": f"{name} ({inference})", "inference": inference, "role": role,
            "minimumEffect": minimum, "estimate": est, "se": se,
            "lower95": est - m1 * se, "upper95": est + m1 * se,
            "pValue": 2 * st.norm.sf(abs(z)) if inference == "fixed" else seq_p(z),
            "wantLower": est - mk * se, "wantUpper": est + mk * se,
        })

out = {
    "generator": f"gen_family_intervals.py, scipy {scipy.__version__}",
    "alpha": ALPHA, "treatments": K, "usersPerArm": UNITS / 2, "tuning": TUNING,
    "tolerance": TOLERANCE,
    "cases": cases,
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "family_intervals.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
