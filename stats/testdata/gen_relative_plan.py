#!/usr/bin/python3
"""Generate relative_plan.json: power, sample size and MDE of plans whose
effect is RELATIVE to the control mean, for stats.Plan with Relative set.

Run with Debian's python (python3-scipy, python3-mpmath, python3-statsmodels
for gen_golden.py, whose t quantile it uses):

    /usr/bin/python3 stats/testdata/gen_relative_plan.py

A relative effect is decided on its own interval, the delta method's
(stats' analyze.go, GrowthBook's frequentistVariance):

    Var(rel) = Var(t)/c^2 + t^2 Var(c)/c^4,

so at the alternative t = c + delta*|c| the control arm's variance weighs
q^2 = (t/c)^2 = (1 + delta*sign(c))^2. The z statistic rel/SE(rel) is then
d/sqrt(q^2 sc^2/nc + st^2/nt) with d = delta*|c| the absolute difference:
the absolute plan's with the control term weighed by q^2. This script
computes that independently of the Go code: power from scipy's normal
(both tails for a two-sided test, as the planner counts them), the
one-sided sample size in closed form, n = ((z_{1-a} + z_power)/delta)^2 *
(q^2 sc^2 + st^2/r)/c^2, the two-sided one and every MDE with brentq on
the power. For a proportion st^2 = pt(1 - pt) at the treatment rate.

A non-negative metric (a proportion, or a mean with "nonNegative") is
tested by the analysis on the log ratio ln(t/c), SE sqrt(vt/(nt t^2) +
vc/(nc c^2)) (Katz et al. 1978), when the delta method's interval at the
larger of the critical value and the confidence sequence's multiplier
(Waudby-Smith et al. 2021, tuning 10,000; for a one-sided test the
half-normal mixture's, x^2/2 + ln Phi(x) = ln(sqrt(t rho^2 + 1)/(2 alpha)))
reaches below -100% at the alternative; the power is then that test's.
Sample sizes are the smallest n whose power reaches the target, MDEs the
smallest |effect|: found here by scanning a grid and refining with brentq,
and checked against the grid below them.

The t cases ("t": true) are Welch's test of the relative effect as the
analysis runs it: Student's t critical value and the noncentral t (scipy
nct) with noncentrality rel/SE(rel) and the Welch-Satterthwaite degrees of
freedom of the arms' means (the absolute test's, which the relative test
shares).
"""

import json
import math
import os

import scipy
import scipy.stats as st
from scipy.optimize import brentq

# Student's t quantile polished in mpmath (scipy's is good to about 1e-9).
from gen_golden import seq_mult, t_ppf


def f(x):
    return float(x)


def arm_vars(a, d):
    """Per-unit variances of control and treatment at absolute difference d."""
    if a["kind"] == "proportion":
        pc, pt = a["baseline"], a["baseline"] + d
        return pc * (1 - pc), pt * (1 - pt)
    return a["sd"] ** 2, a["treatmentSD"] ** 2


def rel_se(a, rel, nc, ratio):
    """SE of the relative effect at the alternative rel, by the delta method
    on the arms' means (t = c + rel*|c|)."""
    c = a["baseline"]
    d = rel * abs(c)
    t = c + d
    vc, vt = arm_vars(a, d)
    var_c, var_t = vc / nc, vt / (nc * ratio)
    return math.sqrt(var_t / c**2 + t**2 * var_c / c**4)


def seq_mult_alt(alpha, nc, ratio, alt, tuning=10000):
    units = nc * (1 + ratio)
    if alt == "two-sided":
        return seq_mult(alpha, tuning, units)
    l = 2 * math.log(1 / alpha)
    tr = units * (l + math.log(1 + l)) / tuning
    c = 0.5 * math.log(1 + tr) - math.log(2 * alpha)
    x = brentq(lambda x: x * x / 2 + st.norm.logcdf(x) - c, 0, 100, xtol=1e-15, rtol=1e-15)
    return x * math.sqrt((tr + 1) / tr)


def log_ratio(a, rel, nc, alpha, alt, ratio):
    """The log ratio's z when the analysis tests it (see the docstring), else None."""
    c = a["baseline"]
    t = c * (1 + rel)
    if not (a["kind"] == "proportion" or a.get("nonNegative")) or c <= 0 or t <= 0:
        return None
    crit = st.norm.isf(alpha / 2 if alt == "two-sided" else alpha)
    if rel - max(crit, seq_mult_alt(alpha, nc, ratio, alt)) * rel_se(a, rel, nc, ratio) >= -1:
        return None
    vc, vt = arm_vars(a, t - c)
    return math.log(t / c) / math.sqrt(vt / (nc * ratio * t * t) + vc / (nc * c * c))


def power_z(a, rel, nc, alpha, alt, ratio, rule=False):
    z = rel / rel_se(a, rel, nc, ratio)
    if rule:
        lz = log_ratio(a, rel, nc, alpha, alt, ratio)
        z = z if lz is None else lz
    if alt == "greater":
        return f(st.norm.sf(st.norm.isf(alpha) - z))
    if alt == "less":
        return f(st.norm.cdf(-st.norm.isf(alpha) - z))
    c = st.norm.isf(alpha / 2)
    return f(st.norm.sf(c - z) + st.norm.cdf(-c - z))


def power_t(a, rel, nc, alpha, alt, ratio):
    nt = nc * ratio
    d = rel * abs(a["baseline"])
    vc, vt = arm_vars(a, d)
    va, vb = vc / nc, vt / nt
    df = (va + vb) ** 2 / (va**2 / (nc - 1) + vb**2 / (nt - 1))
    delta = rel / rel_se(a, rel, nc, ratio)
    c = -t_ppf(alpha / 2 if alt == "two-sided" else alpha, df)
    if alt == "greater":
        return f(st.nct.sf(c, df, delta))
    if alt == "less":
        return f(st.nct.cdf(-c, df, delta))
    return f(st.nct.sf(c, df, delta) + st.nct.cdf(-c, df, delta))


def closed_form_n(a, rel, alpha, power, ratio):
    """One-sided normal sample size in closed form (the far tail is none)."""
    c = a["baseline"]
    d = rel * abs(c)
    q2 = ((c + d) / c) ** 2
    vc, vt = arm_vars(a, d)
    u = st.norm.isf(alpha) + st.norm.ppf(power)
    return (u / rel) ** 2 * (q2 * vc + vt / ratio) / c**2


def smallest(fn, target, lo, hi, steps):
    """The smallest x on a geometric grid of steps points in [lo, hi] with
    fn(x) >= target, refined by brentq, and checked against the grid."""
    r = (hi / lo) ** (1 / steps)
    prev = lo
    for i in range(1, steps + 1):
        x = lo * r**i
        if fn(x) >= target:
            return brentq(lambda v: fn(v) - target, prev, x, xtol=1e-13, rtol=1e-15, maxiter=500)
        prev = x
    return None


ARMS = [
    {"kind": "mean", "baseline": 10.0, "sd": 8.0, "treatmentSD": 8.0},
    {"kind": "mean", "baseline": 2.0, "sd": 3.0, "treatmentSD": 4.0},
    # A negative control mean (a profit): t/c = 1 - delta, so an increase
    # weighs the control term by (1 - delta)^2.
    {"kind": "mean", "baseline": -5.0, "sd": 6.0, "treatmentSD": 6.0},
    {"kind": "proportion", "baseline": 0.1},
    {"kind": "proportion", "baseline": 0.4},
    # A non-negative mean: its large decreases are tested on the log ratio.
    {"kind": "mean", "baseline": 10.0, "sd": 8.0, "treatmentSD": 8.0, "nonNegative": True},
]


def log_ratio_plans():
    """Large decreases of non-negative metrics, tested on the log ratio at
    the sizes the delta method would plan: -90% of a 10% conversion rate
    needs about 15 times the delta method's users."""
    out = {"power": [], "sampleSize": [], "mde": []}
    for a, effects in [({"kind": "proportion", "baseline": 0.1}, [-0.9, -0.7, -0.5]),
                       ({"kind": "proportion", "baseline": 0.4}, [-0.8]),
                       ({"kind": "mean", "baseline": 10.0, "sd": 8.0, "treatmentSD": 8.0, "nonNegative": True}, [-0.8, -0.6])]:
        for alt in ["two-sided", "less"]:
            for ratio in [1, 3]:
                for e in effects:
                    for n in [50, 300, 2000]:
                        out["power"].append({**a, "alpha": 0.05, "alternative": alt, "effect": e, "control": n,
                                             "ratio": ratio, "want": power_z(a, e, n, 0.05, alt, ratio, True)})
                    n = smallest(lambda n: power_z(a, e, n, 0.05, alt, ratio, True), 0.8, 1, 1e7, 20000)
                    delta_n = brentq(lambda n: power_z(a, e, n, 0.05, alt, ratio) - 0.8, 1e-3, 1e9, xtol=1e-12)
                    out["sampleSize"].append({**a, "alpha": 0.05, "alternative": alt, "effect": e, "power": 0.8,
                                              "ratio": ratio, "control": n, "deltaControl": delta_n})
    return out


def plans():
    out = {"power": [], "sampleSize": [], "mde": []}
    for a in ARMS:
        for alpha in [0.05, 0.01]:
            for alt in ["two-sided", "greater", "less"]:
                sign = -1 if alt == "less" else 1
                for effect in [0.1, 0.3]:
                    e = sign * effect
                    for ratio in [1, 3, 0.5]:
                        for n in [200, 5000]:
                            out["power"].append({**a, "alpha": alpha, "alternative": alt, "effect": e,
                                                 "control": n, "ratio": ratio,
                                                 "want": power_z(a, e, n, alpha, alt, ratio, True)})
                        for target in [0.8, 0.9]:
                            n = brentq(lambda n: power_z(a, e, n, alpha, alt, ratio) - target,
                                       1e-3, 1e9, xtol=1e-12, rtol=1e-15, maxiter=500)
                            if log_ratio(a, e, n, alpha, alt, ratio) is not None:
                                n = smallest(lambda n: power_z(a, e, n, alpha, alt, ratio, True), target, 1, 1e7, 20000)
                            elif alt != "two-sided":
                                cf = closed_form_n(a, e, alpha, target, ratio)
                                assert abs(cf - n) <= 1e-10 * n, (cf, n)
                            out["sampleSize"].append({**a, "alpha": alpha, "alternative": alt, "effect": e,
                                                      "power": target, "ratio": ratio, "control": n})
                for ratio in [1, 3]:
                    for target in [0.8, 0.9]:
                        for n in [400, 20000]:
                            hi = 50.0
                            if a["kind"] == "proportion":
                                b = a["baseline"]
                                hi = (b * 0.999 if sign < 0 else (1 - b) * 0.999) / b
                            elif sign < 0:
                                hi = 0.999  # the power of a decrease peaks beyond -100%
                            m = brentq(lambda r: power_z(a, sign * r, n, alpha, alt, ratio) - target,
                                       1e-9, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
                            if log_ratio(a, sign * m, n, alpha, alt, ratio) is not None:
                                m = smallest(lambda r: power_z(a, sign * r, n, alpha, alt, ratio, True), target,
                                             1e-4, hi, 20000)
                            out["mde"].append({**a, "alpha": alpha, "alternative": alt, "power": target,
                                               "ratio": ratio, "control": n, "want": sign * m})
    return out


def plans_t():
    out = {"power": [], "sampleSize": [], "mde": []}
    for a in [{"kind": "mean", "baseline": 2.0, "sd": 1.0, "treatmentSD": 1.0},
              {"kind": "mean", "baseline": 4.0, "sd": 2.0, "treatmentSD": 3.5}]:
        for alpha in [0.05, 0.01]:
            for alt in ["two-sided", "greater", "less"]:
                sign = -1 if alt == "less" else 1
                e = sign * 0.5
                for ratio in [1, 2]:
                    for n in [3, 8, 25]:
                        out["power"].append({**a, "alpha": alpha, "alternative": alt, "effect": e,
                                             "control": n, "ratio": ratio,
                                             "want": power_t(a, e, n, alpha, alt, ratio)})
                    for target in [0.8, 0.9]:
                        lo = max(2.0, 2.0 / ratio) + 1e-9
                        n = brentq(lambda n: power_t(a, e, n, alpha, alt, ratio) - target, lo, 1e5,
                                   xtol=1e-13, rtol=1e-15, maxiter=500)
                        out["sampleSize"].append({**a, "alpha": alpha, "alternative": alt, "effect": e,
                                                  "power": target, "ratio": ratio, "control": n})
                        hi = 0.999 if sign < 0 else 50.0
                        m = brentq(lambda r: power_t(a, sign * r, 30, alpha, alt, ratio) - target,
                                   1e-6, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
                        out["mde"].append({**a, "alpha": alpha, "alternative": alt, "power": target,
                                           "ratio": ratio, "control": 30, "want": sign * m})
    return out


def main():
    golden = {
        "generator": "gen_relative_plan.py, scipy " + scipy.__version__,
        "normal": plans(),
        "logRatio": log_ratio_plans(),
        "t": plans_t(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "relative_plan.json")
    with open(path, "w") as fh:
        json.dump(golden, fh, indent=1, allow_nan=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
