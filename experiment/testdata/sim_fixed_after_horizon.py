#!/usr/bin/python3
"""Simulate a fixed-horizon verdict read again after its planned sample:
the chance that a true null is rejected (two-sided, alpha = 0.05) at one
look or more, looks every minute while users keep coming.

Run with Debian's python (python3-numpy, python3-scipy):

    /usr/bin/python3 experiment/testdata/sim_fixed_after_horizon.py

The cumulative z statistic of a difference of means is, in the limit, a
Brownian motion B(n)/sqrt(n). With the planned sample N the verdict first
reads the test at N; the recorder reads it again at every look after, here
LOOKS looks evenly spread from N to GROWTH * N. Writes
fixed_after_horizon.json.
"""

import json
import os

import numpy as np
import scipy
import scipy.stats as st

PATHS, SEED, ALPHA = 40000, 20261207, 0.05
z = st.norm.ppf(1 - ALPHA / 2)
rng = np.random.default_rng(SEED)
cases = []
for growth, looks in [(1.0, 1), (1.5, 50), (2.0, 100), (4.0, 300)]:
    n = np.linspace(1.0, growth, looks)
    steps = np.diff(np.concatenate([[0.0], n]))
    b = np.cumsum(rng.standard_normal((PATHS, looks)) * np.sqrt(steps), axis=1)
    reject = (np.abs(b / np.sqrt(n)) > z).any(axis=1).mean()
    cases.append({"alpha": ALPHA, "lastLookOverPlanned": growth, "looks": looks, "paths": PATHS,
                  "rejectedAtSomeLook": float(reject)})
out = {"generator": f"sim_fixed_after_horizon.py, numpy {np.__version__}, scipy {scipy.__version__}, seed {SEED}",
       "cases": cases}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixed_after_horizon.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(json.dumps(out, indent=1))
