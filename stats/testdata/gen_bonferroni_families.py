#!/usr/bin/python3
"""Generate bonferroni_families.json: Bonferroni-adjusted relative intervals
when the relative family is smaller than the absolute one.

Run with Debian's python (python3-scipy, python3-statsmodels):

    /usr/bin/python3 stats/testdata/gen_bonferroni_families.py

Three proportion metrics, control against one treatment, 2,000 users per
arm. The third metric's control has no conversion: its absolute difference
is tested, its relative one is not (no baseline). So the absolute family has
m = 3 comparisons and the relative family m = 2, and statsmodels'
multipletests(method="bonferroni") corrects each family over its own m. The
relative intervals are the delta method's (unpooled variances p(1-p)/n, as
the Go code documents) at level 1 - alpha/m_relative, two-sided.
"""

import json
import math
import os

import scipy
import scipy.stats as st
import statsmodels
from statsmodels.stats.multitest import multipletests

ALPHA = 0.05
N = 2000
# (metric, control conversions, treatment conversions)
METRICS = [("a", 200, 253), ("b", 300, 352), ("errors", 0, 6)]


def main():
    abs_p, rel_p, rel = [], [], []
    for name, kc, kt in METRICS:
        pc, pt = kc / N, kt / N
        vc, vt = pc * (1 - pc) / N, pt * (1 - pt) / N
        diff = pt - pc
        abs_p.append(2 * st.norm.sf(abs(diff / math.sqrt(vc + vt))))
        if pc == 0:
            rel.append(None)
            continue
        r = diff / pc
        rse = math.sqrt(vt / pc**2 + pt**2 * vc / pc**4)
        rel_p.append(2 * st.norm.sf(abs(r / rse)))
        rel.append((r, rse))
    m_abs, m_rel = len(abs_p), len(rel_p)
    abs_adj = multipletests(abs_p, alpha=ALPHA, method="bonferroni")[1]
    rel_adj = multipletests(rel_p, alpha=ALPHA, method="bonferroni")[1]
    z_abs = st.norm.ppf(1 - ALPHA / m_abs / 2)
    z_rel = st.norm.ppf(1 - ALPHA / m_rel / 2)
    out, j = [], 0
    for i, (name, kc, kt) in enumerate(METRICS):
        pc, pt = kc / N, kt / N
        se = math.sqrt(pc * (1 - pc) / N + pt * (1 - pt) / N)
        c = {"metric": name, "control": kc, "treatment": kt,
             "absoluteAdjustedPValue": float(abs_adj[i]),
             "absoluteAdjustedInterval": {"lower": pt - pc - z_abs * se, "upper": pt - pc + z_abs * se}}
        if rel[i] is not None:
            r, rse = rel[i]
            c["relativeAdjustedPValue"] = float(rel_adj[j])
            c["relativeAdjustedInterval"] = {"lower": r - z_rel * rse, "upper": r + z_rel * rse}
            j += 1
        out.append(c)
    doc = {"generator": "stats/testdata/gen_bonferroni_families.py",
           "versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
           "alpha": ALPHA, "units": N, "comparisons": out}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bonferroni_families.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


main()
