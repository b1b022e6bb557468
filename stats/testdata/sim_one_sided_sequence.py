#!/usr/bin/python3
"""Simulate the error rate of one-sided confidence sequences: the two-sided
boundary on one side (as stats/sequential.go had it) and the one-sided
normal mixture (as it has it now), the widths of both, and reference
multipliers and p-values of the one-sided mixture for the Go tests; writes
one_sided_sequence.json.

Run with Debian's python (python3-numpy, python3-scipy):

    /usr/bin/python3 stats/testdata/sim_one_sided_sequence.py

A one-sided sequence (alternative greater or less) used the two-sided
normal-mixture boundary of stats/sequential.go on one side only. Under the
null the estimate's path is, in the limit, a Brownian motion in the units
observed; the sequence errs when the path ever crosses that one side. For a
continuously watched Brownian motion the two-sided mixture is crossed with
probability exactly alpha (Ville's inequality is an equality for a
continuous martingale that tends to 0), so one side is crossed with
probability (alpha + P(both sides)) / 2, about alpha/2. Looking at discrete
times, and stopping at a horizon, lowers it further.

Each path: SEGMENTS * LOOKS_EVERY units of N(0, 1) values, looked at after
every LOOKS_EVERY units; the sequence is tuned for TUNING units, and every
combination in CASES is simulated with PATHS paths (seed fixed).

The one-sided normal mixture
(Howard, Ramdas, McAuliffe and Sekhon 2021, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", the one-sided normal mixture, mixing
over a half-normal): the z at which
    2 / sqrt(t rho^2 + 1) * exp(x^2 / 2) * Phi(x) = 1/alpha,
    x = z * sqrt(t rho^2 / (t rho^2 + 1)),
at the same rho (solved here with scipy's brentq and norm.logcdf), errs
at most alpha by Ville's inequality; simulated on the same paths.
"""

import json
import math
import os

import numpy as np
import scipy
import scipy.optimize as so
import scipy.stats as st

PATHS = 20000
SEED = 20261207


def rho2(alpha, tuning):
    l = 2 * math.log(1 / alpha)
    return (l + math.log1p(l)) / tuning


def two_sided_mult(alpha, tuning, t):
    tr = t * rho2(alpha, tuning)
    return np.sqrt(2 * (tr + 1) / tr * (0.5 * np.log1p(tr) - math.log(alpha)))


def one_sided_mult(alpha, tuning, t):
    tr = t * rho2(alpha, tuning)
    target = math.log(math.sqrt(tr + 1) / (2 * alpha))
    # log(exp(x^2/2) Phi(x)) increases in x
    x = so.brentq(lambda x: x * x / 2 + st.norm.logcdf(x) - target, 0, 100)
    return x * math.sqrt((tr + 1) / tr)


def one_sided_p(alpha, tuning, t, z):
    """The one-sided p-value for an estimate z SEs in the alternative's direction."""
    tr = t * rho2(alpha, tuning)
    x = z * math.sqrt(tr / (tr + 1))
    return min(1.0, math.exp(0.5 * math.log1p(tr) - math.log(2) - x * x / 2 - st.norm.logcdf(x)))


def simulate(alpha, tuning, looks_every, segments, rng):
    t = looks_every * np.arange(1, segments + 1, dtype=float)
    mult = two_sided_mult(alpha, tuning, t)
    mult1 = np.array([one_sided_mult(alpha, tuning, x) for x in t])
    upper = lower = either = mixture = 0
    for start in range(0, PATHS, 2000):
        m = min(2000, PATHS - start)
        # the sum of t N(0, 1) values, looked at every looks_every units
        s = np.cumsum(rng.standard_normal((m, segments)) * math.sqrt(looks_every), axis=1)
        z = s / np.sqrt(t)  # estimate / SE
        up = (z > mult).any(axis=1)
        down = (z < -mult).any(axis=1)
        mixture += int((z > mult1).any(axis=1).sum())
        upper += int(up.sum())
        lower += int(down.sum())
        either += int((up | down).sum())
    return upper / PATHS, lower / PATHS, either / PATHS, mixture / PATHS


rng = np.random.default_rng(SEED)
cases = []
for alpha, tuning, looks_every, segments in [(0.05, 10000, 10, 5000), (0.05, 10000, 100, 1000),
                                             (0.05, 10000, 1000, 100), (0.10, 2000, 10, 2000)]:
    up, down, either, mixture = simulate(alpha, tuning, looks_every, segments, rng)
    cases.append({"alpha": alpha, "tuning": tuning, "looksEvery": looks_every,
                  "horizon": looks_every * segments, "paths": PATHS,
                  "oneSidedErrorGreater": up, "oneSidedErrorLess": down, "twoSidedError": either,
                  "oneSidedMixtureError": mixture})

widths = []
for alpha in (0.05, 0.10):
    for t in (1000, 10000, 100000):
        a, b = float(two_sided_mult(alpha, 10000, t)), one_sided_mult(alpha, 10000, t)
        widths.append({"alpha": alpha, "tuning": 10000, "t": t, "twoSidedBoundary": a,
                       "oneSidedMixture": b, "widthRatio": a / b})

reference = []
for alpha, tuning, t, z in [(0.05, 10000, 1000, 2.0), (0.05, 10000, 10000, 3.5), (0.05, 10000, 100000, 0.5),
                            (0.01, 500, 100000, 4.2), (0.1, 1e6, 50, 0.3), (0.2, 2000, 2000, 2.9)]:
    reference.append({"alpha": alpha, "tuning": tuning, "t": t, "z": z,
                      "multiplier": one_sided_mult(alpha, tuning, t), "pValue": one_sided_p(alpha, tuning, t, z)})

out = {"generator": f"sim_one_sided_sequence.py, numpy {np.__version__}, scipy {scipy.__version__}, seed {SEED}",
       "errorRates": cases, "widths": widths, "oneSided": reference}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "one_sided_sequence.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(json.dumps(out, indent=1))
