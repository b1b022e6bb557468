#!/usr/bin/python3
"""Generate golden.json: reference values for the stats package's tests.

Run from anywhere with Debian's python (the pyenv python3 on PATH lacks scipy):

    apt-get install -y python3-scipy python3-statsmodels python3-mpmath
    /usr/bin/python3 stats/testdata/gen_golden.py

Every reference comes from scipy, statsmodels or an explicit numpy
computation written independently of the Go code. Two deliberate choices:

* Student's t quantiles: scipy 1.10's t.ppf is accurate only to about 1e-9
  (its inverse stops early), so quantiles -- and the confidence intervals built
  on them -- are polished with Newton steps in 50-digit mpmath on scipy's own
  t.cdf definition; the raw scipy value is kept beside them ("scipy") and the Go
  test checks it to 1e-8.
* Sequential (always-valid) intervals have no scipy counterpart; they are
  computed here from the formula of Waudby-Smith et al. (2021), Theorem 2.2.
"""

import json
import math
import os

import mpmath as mp
import numpy as np
import scipy
import scipy.integrate as integrate
import scipy.stats as st
from scipy.optimize import brentq
import statsmodels
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (confint_proportions_2indep,
                                          test_proportions_2indep)

mp.mp.dps = 50
rng = np.random.default_rng(20240501)


def f(x):
    return float(x)


# --- exact t quantile -------------------------------------------------------

def _tsf(t, df):
    t, df = mp.mpf(t), mp.mpf(df)
    x = df / (df + t * t)
    v = mp.betainc(df / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2
    return v if t >= 0 else 1 - v


def _tpdf(t, df):
    t, df = mp.mpf(t), mp.mpf(df)
    return (mp.exp(mp.loggamma((df + 1) / 2) - mp.loggamma(df / 2))
            / mp.sqrt(df * mp.pi) * (1 + t * t / df) ** (-(df + 1) / 2))


def t_ppf(p, df):
    q = mp.mpf(st.t.ppf(p, df))
    for _ in range(6):
        q -= (1 - _tsf(q, df) - p) / _tpdf(q, df)
    return f(q)


# --- distributions -----------------------------------------------------------

def distributions():
    out = {"normal_cdf": [], "normal_quantile": [], "t_cdf": [], "t_quantile": [], "chi2_sf": []}
    for x in [-38, -20, -8, -3, -1.96, -0.5, 0, 0.3, 1, 2.5, 3, 8, 20]:
        out["normal_cdf"].append({"x": x, "want": f(st.norm.cdf(x))})
    for p in [1e-300, 1e-100, 1e-20, 1e-12, 1e-6, 0.0005, 0.025, 0.05, 0.2, 0.5,
              0.8, 0.95, 0.975, 0.999, 1 - 1e-10]:
        out["normal_quantile"].append({"p": p, "want": f(st.norm.ppf(p))})
    dfs = [1, 2, 2.5, 3, 7.3, 10, 30, 99.5, 499, 500, 1500, 1e4, 1e5, 1e6, 1e7, 1e9]
    for df in dfs:
        for t in [-40, -10, -3, -1.5, -0.1, 0, 0.1, 0.5, 1.96, 3, 5, 10, 29]:
            out["t_cdf"].append({"x": t, "df": df, "want": f(st.t.cdf(t, df))})
    for df in [1, 2, 2.5, 3, 7.3, 10, 30, 99.5, 499, 500, 1500, 1e4, 1e6, 1e8]:
        for p in [1e-9, 1e-4, 0.0005, 0.005, 0.025, 0.05, 0.1, 0.3, 0.9, 0.975]:
            out["t_quantile"].append({"p": p, "df": df, "want": t_ppf(p, df),
                                      "scipy": f(st.t.ppf(p, df))})
    for k in [1, 2, 3, 4, 9, 20, 99]:
        for x in [0.001, 0.1, 0.5, 1, 2, 5, 10, 30, 100, 300, 1000]:
            out["chi2_sf"].append({"x": x, "k": k, "want": f(st.chi2.sf(x, k))})
    return out


# --- fixed-horizon tests -------------------------------------------------------

def crit_t(alpha, alt, df):
    return -t_ppf(alpha / 2 if alt == "two-sided" else alpha, df)


def crit_z(alpha, alt):
    return f(-st.norm.ppf(alpha / 2 if alt == "two-sided" else alpha))


def interval(est, half, alt):
    if alt == "greater":
        return {"lower": est - half, "upperUnbounded": True}
    if alt == "less":
        return {"upper": est + half, "lowerUnbounded": True}
    return {"lower": est - half, "upper": est + half}


def relative(tm, tv, cm, cv):
    """Delta method for (t - c)/|c| with independent arms; tv, cv: variances of the means."""
    rel = (tm - cm) / abs(cm)
    se = math.sqrt(tv / cm**2 + tm**2 * cv / cm**4)
    return rel, se


def seq_mult(alpha, tuning, t):
    """Half-width in SEs of the confidence sequence (Waudby-Smith et al. 2021, Thm 2.2)."""
    l = 2 * math.log(1 / alpha)
    rho2 = (l + math.log(1 + l)) / tuning
    tr = t * rho2
    return math.sqrt(2 * (tr + 1) / tr * (0.5 * math.log(1 + tr) - math.log(alpha)))


def p_value(stat, alt, df=None):
    """p-value of a t (df given) or z statistic, from scipy."""
    d = st.t(df) if df else st.norm
    if alt == "greater":
        return f(d.sf(stat))
    if alt == "less":
        return f(d.cdf(stat))
    return f(min(1.0, 2 * d.sf(abs(stat))))


def relative_test(tm, tv, cm, cv, alpha, alt, crit, df=None, nonneg=False, units=None, tuning=10000):
    """The relative scale's own test. Delta method on (t - c)/|c|; for a
    non-negative metric whose delta interval (fixed or sequential, two-sided)
    reaches below -100%, the log ratio ln(t/c) with SE sqrt(tv/t^2 + cv/c^2)
    (Katz et al. 1978), its interval mapped back by exp(x) - 1."""
    rel, se = relative(tm, tv, cm, cv)
    m = seq_mult(alpha, tuning, units)
    if nonneg and cm > 0 and tm > 0 and rel - max(crit, m) * se < -1:
        l = math.log(tm / cm)
        lse = math.sqrt(tv / tm**2 + cv / cm**2)
        iv = interval(l, crit * lse, alt)
        out = {}
        for k, v in iv.items():
            out[k] = v if k.endswith("Unbounded") else math.expm1(v)
        if out.pop("lowerUnbounded", False):
            out["lower"] = -1.0
        return {"relative": rel, "relativeSE": lse, "relativeStatistic": l / lse,
                "relativePValue": p_value(l / lse, alt, df), "relativeInterval": out,
                "relativeMethod": "log-ratio"}
    return {"relative": rel, "relativeSE": se, "relativeStatistic": rel / se,
            "relativePValue": p_value(rel / se, alt, df),
            "relativeInterval": interval(rel, crit * se, alt), "relativeMethod": "delta"}


def welch():
    cases = []
    params = [
        # control (n, mean, sd), treatment (n, mean, sd)
        ((50, 10.0, 2.0), (60, 10.9, 2.5)),
        ((12, 3.2, 1.1), (9, 2.1, 0.4)),
        ((1000, 0.5, 0.9), (1000, 0.52, 0.95)),
        ((250000, 105.3, 40.0), (250400, 105.6, 41.2)),
        ((3, 1.0, 0.5), (2, 2.0, 0.1)),
        ((40, 5.0, 0.0), (40, 5.5, 1.0)),
        # A negative control mean (profit): the relative effect keeps the
        # sign of the difference.
        ((200, -10.0, 4.0), (220, -5.0, 4.5)),
        # Small samples, GrowthBook-like: the absolute p is 0.02 while the
        # relative interval includes 0.
        ((10, 0.5, 0.3), (10, 0.9, 0.4)),
        # Edge cases: two units per arm; no variance in treatment; a
        # billion units per arm; arms of 1:99.
        ((2, 1.0, 0.5), (2, 3.0, 1.5)),
        ((40, 5.0, 1.0), (40, 5.5, 0.0)),
        ((1000000000, 100.0, 30.0), (1000000000, 100.001, 30.0)),
        ((100, 5.0, 2.0), (9900, 5.3, 2.0)),
    ]
    for (nc, mc, sc), (nt, mt, stt) in params:
        for alt in ["two-sided", "greater", "less"]:
            for alpha in [0.05, 0.01]:
                r = st.ttest_ind_from_stats(mt, stt, nt, mc, sc, nc, equal_var=False,
                                            alternative=alt)
                vc, vt = sc**2 / nc, stt**2 / nt
                se = math.sqrt(vc + vt)
                df = (vc + vt) ** 2 / (vc**2 / (nc - 1) + vt**2 / (nt - 1))
                diff = mt - mc
                assert abs(diff / se - r.statistic) <= 1e-12 * abs(r.statistic)
                c = crit_t(alpha, alt, df)
                want = {"statistic": f(r.statistic), "pValue": f(r.pvalue), "df": df,
                        "diff": diff, "se": se, "interval": interval(diff, c * se, alt)}
                want.update(relative_test(mt, vt, mc, vc, alpha, alt, c, df=df, units=nc + nt))
                cases.append({
                    "control": {"n": nc, "mean": mc, "sd": sc},
                    "treatment": {"n": nt, "mean": mt, "sd": stt},
                    "alternative": alt, "alpha": alpha, "want": want,
                })
    return cases


def proportions():
    cases = []
    for (kc, nc), (kt, nt) in [((100, 1000), (130, 1000)), ((4800, 100000), (5020, 100400)),
                               ((3, 40), (9, 45)), ((1, 500), (4, 510)),
                               # an error rate's rise on few users: the delta
                               # interval would fall below -100%
                               ((3, 100), (5, 100)), ((12, 400), (7, 380)),
                               # extreme rates: control at 0 (no relative
                               # effect) and at 1, treatment at 1; 1:99 arms;
                               # a billion users per arm
                               ((0, 1000), (5, 1000)), ((1000, 1000), (990, 1000)),
                               ((990, 1000), (1000, 1000)), ((10, 100), (1200, 9900)),
                               ((100000000, 1000000000), (100010000, 1000000000))]:
        for alt in ["two-sided", "larger", "smaller"]:
            alpha = 0.05
            pc, pt = kc / nc, kt / nt
            vc, vt = pc * (1 - pc) / nc, pt * (1 - pt) / nt
            se = math.sqrt(vc + vt)
            diff = pt - pc
            ours = {"larger": "greater", "smaller": "less"}.get(alt, alt)
            interior = 0 < kc < nc and 0 < kt < nt
            if interior:
                r = test_proportions_2indep(kt, nt, kc, nc, method="wald", compare="diff",
                                            alternative=alt)
            else:  # statsmodels divides by the rates and their complements: the Wald z by hand
                r = type("R", (), {"statistic": diff / se, "pvalue": p_value(diff / se, ours)})
            c = crit_z(alpha, ours)
            iv = interval(diff, c * se, ours)
            if alt == "two-sided" and interior:
                lo, hi = confint_proportions_2indep(kt, nt, kc, nc, method="wald",
                                                    compare="diff", alpha=alpha)
                assert abs(lo - iv["lower"]) < 1e-12 and abs(hi - iv["upper"]) < 1e-12
            want = {"statistic": f(r.statistic), "pValue": f(r.pvalue), "diff": diff,
                    "se": se, "interval": iv}
            if pc > 0:
                want.update(relative_test(pt, vt, pc, vc, alpha, ours, c, nonneg=True, units=nc + nt))
            cases.append({"control": [kc, nc], "treatment": [kt, nt], "alternative": ours,
                          "alpha": alpha, "want": want})
    return cases


def newcombe():
    """A conversion where one arm converted none of its units and the other
    all of them: no Wald interval (its SE is 0), so Newcombe's hybrid score
    interval from statsmodels (confint_proportions_2indep, method "newcomb"),
    treatment first as statsmodels compares count1 - count2. One-sided at
    alpha is its bound at 2*alpha. The statistic is the z at which that
    interval reaches 0 (found with brentq on statsmodels' own bound), the
    p-value scipy's for it, so p < alpha exactly when the interval excludes 0.
    The Bayesian view: each arm's Beta(1, 1) posterior (scipy), the
    difference read as a normal with its mean and variance."""
    cases = []
    for (kc, nc), (kt, nt) in [((0, 5), (5, 5)), ((0, 2), (2, 2)), ((0, 3), (30, 30)),
                               ((0, 500), (400, 400)), ((7, 7), (0, 4)), ((500, 500), (0, 400)),
                               ((0, 1000), (3, 3)), ((20, 20), (0, 20))]:
        d = kt / nt - kc / nc

        def bound(alpha):
            lo, hi = confint_proportions_2indep(kt, nt, kc, nc, method="newcomb",
                                                compare="diff", alpha=alpha)
            return f(lo), f(hi)

        side = 0 if d > 0 else 1  # the bound that moves towards 0
        z = brentq(lambda z: bound(2 * st.norm.sf(z))[side], 1e-3, 37, xtol=1e-14, rtol=1e-15)
        stat = z if d > 0 else -z
        mc, mt = st.beta(kc + 1, nc - kc + 1), st.beta(kt + 1, nt - kt + 1)
        post, post_sd = mt.mean() - mc.mean(), math.sqrt(mt.var() + mc.var())
        for alt in ["two-sided", "greater", "less"]:
            for alpha in [0.05, 0.01]:
                lo, hi = bound(alpha if alt == "two-sided" else 2 * alpha)
                iv = {"lower": lo, "upper": hi}
                if alt == "greater":
                    iv = {"lower": lo, "upperUnbounded": True}
                elif alt == "less":
                    iv = {"upper": hi, "lowerUnbounded": True}
                chance = st.norm(post, post_sd).sf(0)
                cases.append({"control": [kc, nc], "treatment": [kt, nt], "alternative": alt,
                              "alpha": alpha, "want": {"diff": d, "statistic": f(stat),
                                                       "pValue": p_value(stat, alt), "interval": iv,
                                                       "chance": f(chance)}})
    return cases


def raw(a):
    """Round generated data so that JSON holds it exactly."""
    return [round(float(v), 4) for v in a]


def ratio():
    """Delta-method ratio metric from per-user data (x numerator, y denominator)."""
    cases = []
    for n, lift in [(150, 0.0), (150, 0.15), (400, -0.08)]:
        arms = []
        for g in range(2):
            y = rng.poisson(2.0, n) + 1.0
            x = y * rng.gamma(2.0, 10.0 * (1 + lift * g), n)
            arms.append({"x": raw(x), "y": raw(y)})
        ests = []
        plans = []
        for a in arms:
            x, y = np.array(a["x"]), np.array(a["y"])
            # Planning input: per-unit means, SDs and correlation, and the
            # per-unit SD of the linearisation (x - R y)/mean(y).
            rr = x.mean() / y.mean()
            plans.append({"meanX": f(x.mean()), "meanY": f(y.mean()), "sdX": f(x.std(ddof=1)),
                          "sdY": f(y.std(ddof=1)), "corr": f(np.corrcoef(x, y)[0, 1]),
                          "want": f(((x - rr * y) / y.mean()).std(ddof=1))})
            r = x.mean() / y.mean()
            cov = np.cov(x, y, ddof=1)
            var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * y.mean() ** 2)
            # The same by explicit linearisation.
            lin = (x - r * y) / y.mean()
            assert abs(var - lin.var(ddof=1) / n) <= 1e-9 * var
            ests.append((r, var))
        (rc, vc), (rt, vt) = ests
        diff, se = rt - rc, math.sqrt(vc + vt)
        z = diff / se
        alpha, alt = 0.05, "two-sided"
        c = crit_z(alpha, alt)
        want = {"control": rc, "treatment": rt, "diff": diff, "se": se,
                "statistic": z, "pValue": f(2 * st.norm.sf(abs(z))),
                "interval": interval(diff, c * se, alt)}
        want.update(relative_test(rt, vt, rc, vc, alpha, alt, c, units=2 * n))
        cases.append({"arms": arms, "alternative": alt, "alpha": alpha, "want": want, "ratioSD": plans})
    return cases


def cuped():
    """CUPED against an explicit regression with one intercept per arm."""
    cases = []
    for n, k, rho, effect in [(200, 2, 0.7, 0.3), (150, 3, 0.5, 0.0), (300, 2, 0.9, -0.2)]:
        arms, xs, cs, groups = [], [], [], []
        for g in range(k):
            c = rng.normal(10, 3, n)
            x = 5 + rho * (c - 10) + math.sqrt(1 - rho**2) * 3 * rng.normal(0, 1, n)
            x = x + (effect * g)
            arms.append({"x": raw(x), "c": raw(c)})
        for g, a in enumerate(arms):
            xs += a["x"]
            cs += a["c"]
            groups += [g] * n
        X = np.column_stack([np.array(groups) == g for g in range(k)] + [np.array(cs)]).astype(float)
        coef = np.linalg.lstsq(X, np.array(xs), rcond=None)[0]
        theta = coef[-1]
        cpool = np.mean(cs)
        # The "pooled" choice: Cov(Y, C)/Var(C) over all units, arms ignored.
        theta_pooled = np.cov(np.array(xs), np.array(cs), ddof=1)[0, 1] / np.var(np.array(cs), ddof=1)
        adj, var = [], []
        for a in arms:
            x, c = np.array(a["x"]), np.array(a["c"])
            adj.append(x.mean() - theta * (c.mean() - cpool))
            var.append((x - theta * c).var(ddof=1) / n)
        comps = []
        for g in range(1, k):
            diff = adj[g] - adj[0]
            # The regression's arm intercepts differ by exactly the adjusted difference.
            assert abs(diff - (coef[g] - coef[0])) <= 1e-9 * max(1, abs(diff))
            se = math.sqrt(var[g] + var[0])
            df = (var[0] + var[g]) ** 2 / (var[0] ** 2 / (n - 1) + var[g] ** 2 / (n - 1))
            t = diff / se
            raw_se = math.sqrt(np.var(arms[g]["x"], ddof=1) / n + np.var(arms[0]["x"], ddof=1) / n)
            comps.append({"diff": diff, "se": se, "df": df, "statistic": t,
                          "pValue": f(2 * st.t.sf(abs(t), df)),
                          "interval": interval(diff, crit_t(0.05, "two-sided", df) * se, "two-sided"),
                          "unadjustedSE": raw_se})
        cases.append({"kind": "mean", "arms": arms, "alpha": 0.05,
                      "want": {"theta": f(theta), "thetaPooled": f(theta_pooled),
                               "adjusted": [f(v) for v in adj], "comparisons": comps}})

    # Ratio metric: regress the delta-method linearisation on the covariate.
    n = 250
    arms = []
    for g in range(2):
        c = rng.gamma(2.0, 10.0, n)
        y = rng.poisson(2.0, n) + 1.0
        x = y * (0.5 * c + rng.gamma(2.0, 5.0, n)) * (1 + 0.1 * g)
        arms.append({"x": raw(x), "y": raw(y), "c": raw(c)})
    lins, cs, groups, rs = [], [], [], []
    for g, a in enumerate(arms):
        x, y, c = np.array(a["x"]), np.array(a["y"]), np.array(a["c"])
        r = x.mean() / y.mean()
        rs.append(r)
        lins.append((x - r * y) / y.mean())
        cs.append(c)
        groups.append(np.full(n, g))
    X = np.column_stack([np.concatenate(groups) == g for g in range(2)] + [np.concatenate(cs)]).astype(float)
    theta = np.linalg.lstsq(X, np.concatenate(lins), rcond=None)[0][-1]
    cpool = np.concatenate(cs).mean()
    adj = [rs[g] - theta * (cs[g].mean() - cpool) for g in range(2)]
    var = [(lins[g] - theta * cs[g]).var(ddof=1) / n for g in range(2)]
    diff, se = adj[1] - adj[0], math.sqrt(var[0] + var[1])
    z = diff / se
    cases.append({"kind": "ratio", "arms": arms, "alpha": 0.05,
                  "want": {"theta": f(theta), "adjusted": [f(v) for v in adj],
                           "comparisons": [{"diff": diff, "se": se, "df": 0, "statistic": z,
                                            "pValue": f(2 * st.norm.sf(abs(z))),
                                            "interval": interval(diff, crit_z(0.05, "two-sided") * se, "two-sided")}]}})
    return cases


def srm():
    cases = []
    for units, weights in [([5000, 5000], [50, 50]), ([5000, 5210], [1, 1]),
                           ([10321, 9876, 10050], [1, 1, 1]), ([900, 2100], [30, 70]),
                           ([1000, 1300, 0], [1, 1, 1]), ([12, 7], [0.5, 0.5]),
                           ([100000, 102000], [50, 50]),
                           # 1:99, and ten variants
                           ([130, 9870], [1, 99]), ([80, 9920], [1, 99]),
                           ([1010, 990, 1003, 970, 1025, 998, 1001, 960, 1040, 1003], [1] * 10)]:
        total = sum(units)
        exp = [total * w / sum(weights) for w in weights]
        r = st.chisquare(units, exp)
        cases.append({"units": units, "weights": weights, "chiSquare": f(r.statistic),
                      "pValue": f(r.pvalue), "mismatch": bool(r.pvalue < 0.001)})
    return cases


def corrections():
    cases = []
    for p in [[0.01, 0.04, 0.03, 0.005], [0.2, 0.2, 0.001, 0.9, 0.049, 0.0001],
              [0.5], [0.04, 0.04, 0.04], list(np.round(rng.uniform(0, 0.2, 15), 6))]:
        p = [float(v) for v in p]
        cases.append({"p": p,
                      "holm": [f(v) for v in multipletests(p, alpha=0.05, method="holm")[1]],
                      "bh": [f(v) for v in multipletests(p, alpha=0.05, method="fdr_bh")[1]],
                      "bonferroni": [f(v) for v in multipletests(p, alpha=0.05, method="bonferroni")[1]]})
    return cases


def bonferroni_intervals():
    """Three arms of a mean metric, Welch tests of two treatments against
    control, Bonferroni over m = 2: each interval at level 1 - alpha/m."""
    cases = []
    arms = [(300, 10.0, 3.0), (280, 10.6, 3.2), (310, 10.2, 2.9)]
    for alt in ["two-sided", "greater"]:
        alpha, m = 0.05, 2
        nc, mc, sc = arms[0]
        comps = []
        for nt, mt, stt in arms[1:]:
            vc, vt = sc**2 / nc, stt**2 / nt
            se = math.sqrt(vc + vt)
            df = (vc + vt) ** 2 / (vc**2 / (nc - 1) + vt**2 / (nt - 1))
            diff = mt - mc
            c = crit_t(alpha / m, alt, df)
            p = st.ttest_ind_from_stats(mt, stt, nt, mc, sc, nc, equal_var=False, alternative=alt).pvalue
            comps.append({"adjustedPValue": f(min(1.0, m * p)), "adjustedInterval": interval(diff, c * se, alt)})
        cases.append({"arms": [{"n": n, "mean": mu, "sd": sd} for n, mu, sd in arms], "alternative": alt,
                      "alpha": alpha, "comparisons": comps})
    return cases


def many_variants():
    """Nine treatments of a mean metric against control in one analysis:
    Welch's p-values from scipy, corrected over the nine by statsmodels'
    multipletests (Holm, Benjamini-Hochberg, Bonferroni)."""
    control = (500, 10.0, 3.0)
    treatments = [(480, 10.1, 3.1), (510, 10.5, 2.9), (495, 9.7, 3.3), (505, 10.35, 3.0), (490, 10.0, 3.0),
                  (520, 10.6, 3.2), (470, 10.2, 2.8), (500, 9.9, 3.1), (515, 10.45, 3.05)]
    p = []
    for nt, mt, stt in treatments:
        p.append(f(st.ttest_ind_from_stats(mt, stt, nt, control[1], control[2], control[0],
                                           equal_var=False).pvalue))
    arms = [{"n": n, "mean": mu, "sd": sd} for n, mu, sd in [control] + treatments]
    return {"arms": arms, "p": p,
            "holm": [f(v) for v in multipletests(p, alpha=0.05, method="holm")[1]],
            "bh": [f(v) for v in multipletests(p, alpha=0.05, method="fdr_bh")[1]],
            "bonferroni": [f(v) for v in multipletests(p, alpha=0.05, method="bonferroni")[1]]}


def power():
    pw = NormalIndPower()
    out = {"power": [], "sampleSize": [], "mde": []}
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
    for alpha in [0.05, 0.01]:
        for alt in ["two-sided", "greater", "less"]:
            for sd, effect, n, ratio in [(1.0, 0.1, 1000, 1), (40.0, 1.5, 20000, 1),
                                         (0.3, -0.02, 5000, 2), (0.3, 0.02, 800, 0.5)]:
                out["power"].append({"alpha": alpha, "alternative": alt, "sd": sd,
                                     "effect": effect, "control": n, "ratio": ratio,
                                     "want": f(pw.power(effect / sd, n, alpha, ratio=ratio,
                                                        alternative=sm_alt[alt]))})
            for sd, effect, target, ratio in [(1.0, 0.1, 0.8, 1), (40.0, 1.5, 0.9, 1),
                                              (0.3, 0.02, 0.8, 2), (2.0, 0.05, 0.5, 1)]:
                e = -effect if alt == "less" else effect
                n = pw.solve_power(effect_size=e / sd, nobs1=None, alpha=alpha, power=target,
                                   ratio=ratio, alternative=sm_alt[alt])
                n = float(np.asarray(n).item())
                # solve_power's root finder stops early: polish n with Newton
                # steps on statsmodels' own power function.
                for _ in range(5):
                    h = n * 1e-6
                    g = pw.power(e / sd, n, alpha, ratio=ratio, alternative=sm_alt[alt]) - target
                    d = (pw.power(e / sd, n + h, alpha, ratio=ratio, alternative=sm_alt[alt]) -
                         pw.power(e / sd, n - h, alpha, ratio=ratio, alternative=sm_alt[alt])) / (2 * h)
                    n -= g / d
                out["sampleSize"].append({"alpha": alpha, "alternative": alt, "sd": sd,
                                          "effect": e, "power": target, "ratio": ratio,
                                          "control": n})
                m = pw.solve_power(effect_size=None, nobs1=n, alpha=alpha, power=target,
                                   ratio=ratio, alternative=sm_alt[alt])
                m = float(np.asarray(m).item())
                for _ in range(5):  # polish as above
                    h = abs(m) * 1e-6
                    g = pw.power(m, n, alpha, ratio=ratio, alternative=sm_alt[alt]) - target
                    d = (pw.power(m + h, n, alpha, ratio=ratio, alternative=sm_alt[alt]) -
                         pw.power(m - h, n, alpha, ratio=ratio, alternative=sm_alt[alt])) / (2 * h)
                    m -= g / d
                out["mde"].append({"alpha": alpha, "alternative": alt, "sd": sd, "power": target,
                                   "ratio": ratio, "control": n, "want": m * sd,
                                   "exact": e})
    return out


def power_per_arm():
    """Power and sample size with a variance per arm, from statsmodels'
    normal_power_het with std_null = std_alternative = sqrt(sc^2 + st^2/r)
    (the unpooled Wald test; power_proportions_2indep's std_alt is the same
    sum, its std_null the pooled one of the score test). Sample sizes and
    MDEs are solved with scipy's brentq on that power function."""
    from scipy.optimize import brentq
    from statsmodels.stats.power import normal_power_het
    from statsmodels.stats.proportion import _std_2prop_power
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
    out = {"power": [], "sampleSize": [], "mde": []}

    def std(kind, a, diff, ratio):
        if kind == "proportion":
            pc, pt = a["baseline"], a["baseline"] + diff
            s = math.sqrt(pc * (1 - pc) + pt * (1 - pt) / ratio)
            # The same as statsmodels' own alternative standard deviation
            # (its first arm is ours, control, with prop2 + diff = pc).
            sm = _std_2prop_power(-diff, pt, ratio=ratio, alpha=0.05)[2]
            assert abs(sm - s) <= 1e-12 * s, (sm, s)
            return s
        return math.sqrt(a["sd"] ** 2 + a["treatmentSD"] ** 2 / ratio)

    def pw(kind, a, diff, n, alpha, alt, ratio):
        s = std(kind, a, diff, ratio)
        return f(normal_power_het(diff, n, alpha, std_null=s, std_alternative=s,
                                  alternative=sm_alt[alt]))

    arms = [("proportion", {"baseline": 0.1}), ("proportion", {"baseline": 0.45}),
            ("mean", {"sd": 2.0, "treatmentSD": 3.0}), ("mean", {"sd": 40.0, "treatmentSD": 35.0})]
    for kind, a in arms:
        effect = 0.01 if kind == "proportion" else (0.5 if a["sd"] < 10 else 2.0)
        for alpha in [0.05, 0.01]:
            for alt in ["two-sided", "greater", "less"]:
                e = -effect if alt == "less" else effect
                for ratio in [1, 2, 0.5]:
                    for n in [500, 20000]:
                        out["power"].append({"kind": kind, **a, "alpha": alpha, "alternative": alt,
                                             "effect": e, "control": n, "ratio": ratio,
                                             "want": pw(kind, a, e, n, alpha, alt, ratio)})
                    for target in [0.8, 0.9]:
                        n = brentq(lambda n: pw(kind, a, e, n, alpha, alt, ratio) - target,
                                   2, 1e9, xtol=1e-12, rtol=1e-15, maxiter=500)
                        out["sampleSize"].append({"kind": kind, **a, "alpha": alpha, "alternative": alt,
                                                  "effect": e, "power": target, "ratio": ratio,
                                                  "control": n})
                        sign = -1 if alt == "less" else 1
                        hi = 0.5 if kind == "proportion" else 100.0
                        if kind == "proportion" and sign < 0:
                            hi = a["baseline"] * 0.999
                        m = brentq(lambda d: pw(kind, a, sign * d, 3000, alpha, alt, ratio) - target,
                                   1e-9, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
                        out["mde"].append({"kind": kind, **a, "alpha": alpha, "alternative": alt,
                                           "power": target, "ratio": ratio, "control": 3000,
                                           "want": sign * m})
    return out


def power_t():
    """Welch's t-test planned exactly: Student's t critical value (the
    mpmath-polished t_ppf) and scipy's noncentral t (nct) for the power, both
    with the Welch-Satterthwaite degrees of freedom at the planned sizes."""
    from scipy.optimize import brentq
    out = {"power": [], "sampleSize": [], "mde": []}

    def pw(a, d, n, alpha, alt, ratio):
        nt = n * ratio
        va, vb = a["sd"] ** 2 / n, a["treatmentSD"] ** 2 / nt
        df = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (nt - 1))
        nc = d / math.sqrt(va + vb)
        c = -t_ppf(alpha / 2 if alt == "two-sided" else alpha, df)
        if alt == "greater":
            return f(st.nct.sf(c, df, nc))
        if alt == "less":
            return f(st.nct.cdf(-c, df, nc))
        return f(st.nct.sf(c, df, nc) + st.nct.cdf(-c, df, nc))

    for a in [{"sd": 1.0, "treatmentSD": 1.0}, {"sd": 2.0, "treatmentSD": 3.5}]:
        for alpha in [0.05, 0.01]:
            for alt in ["two-sided", "greater", "less"]:
                e = -1.0 if alt == "less" else 1.0
                for ratio in [1, 2]:
                    for n in [3, 8, 25]:
                        out["power"].append({"kind": "mean", **a, "alpha": alpha, "alternative": alt,
                                             "effect": e, "control": n, "ratio": ratio,
                                             "want": pw(a, e, n, alpha, alt, ratio)})
                    for target in [0.8, 0.9]:
                        lo = max(2.0, 2.0 / ratio) + 1e-9
                        n = brentq(lambda n: pw(a, e, n, alpha, alt, ratio) - target, lo, 1e5,
                                   xtol=1e-13, rtol=1e-15, maxiter=500)
                        out["sampleSize"].append({"kind": "mean", **a, "alpha": alpha, "alternative": alt,
                                                  "effect": e, "power": target, "ratio": ratio, "control": n})
                        sign = -1 if alt == "less" else 1
                        m = brentq(lambda d: pw(a, sign * d, 10, alpha, alt, ratio) - target, 1e-6, 100,
                                   xtol=1e-15, rtol=1e-15, maxiter=500)
                        out["mde"].append({"kind": "mean", **a, "alpha": alpha, "alternative": alt,
                                           "power": target, "ratio": ratio, "control": 10, "want": sign * m})
    return out


def bayes():
    cases = []
    for diff, se in [(0.3, 0.2), (-0.05, 0.1), (0.0, 1.0), (1.2, 0.5), (-2.0, 0.9), (0.01, 0.002)]:
        z = diff / se
        post = st.norm(diff, se)
        chance = post.sf(0)
        loss_t = se * st.norm.pdf(z) - diff * st.norm.cdf(-z)
        loss_c = se * st.norm.pdf(z) + diff * st.norm.cdf(z)
        # Independent check of the closed forms by numerical integration.
        qt = integrate.quad(lambda d: -d * post.pdf(d), -np.inf, 0, epsabs=0, epsrel=1e-12)[0]
        qc = integrate.quad(lambda d: d * post.pdf(d), 0, np.inf, epsabs=0, epsrel=1e-12)[0]
        assert abs(qt - loss_t) <= 1e-9 * loss_t and abs(qc - loss_c) <= 1e-9 * loss_c, (qt, loss_t, qc, loss_c)
        cases.append({"diff": diff, "se": se, "chance": f(chance), "lossTreatment": f(loss_t),
                      "lossControl": f(loss_c)})
    return cases


def bayes_prior():
    """A normal prior on the relative effect, applied on the absolute scale
    as N(mean*|c|, (sd*|c|)^2) and combined with the likelihood N(diff, se^2);
    the posterior's chance, expected losses and credible interval by
    scipy's normal distribution and numerical integration."""
    cases = []
    for (nc, mc, sc), (nt, mt, stt), pm, psd in [((400, 10.0, 3.0), (420, 10.5, 3.2), 0.0, 0.3),
                                                 ((50, 2.0, 1.0), (55, 2.6, 1.2), 0.0, 0.05),
                                                 ((1000, -4.0, 2.0), (1000, -3.9, 2.0), 0.02, 0.1)]:
        diff, se = mt - mc, math.sqrt(sc**2 / nc + stt**2 / nt)
        m0, s0 = pm * abs(mc), psd * abs(mc)
        w0, w = 1 / s0**2, 1 / se**2
        post_sd = math.sqrt(1 / (w0 + w))
        post = (w0 * m0 + w * diff) / (w0 + w)
        d = st.norm(post, post_sd)
        loss_t = integrate.quad(lambda x: -x * d.pdf(x), -np.inf, 0, epsabs=0, epsrel=1e-12)[0]
        loss_c = integrate.quad(lambda x: x * d.pdf(x), 0, np.inf, epsabs=0, epsrel=1e-12)[0]
        lo, hi = d.interval(0.95)
        cases.append({"control": {"n": nc, "mean": mc, "sd": sc}, "treatment": {"n": nt, "mean": mt, "sd": stt},
                      "prior": {"mean": pm, "sd": psd}, "chance": f(d.sf(0)), "lossTreatment": f(loss_t),
                      "lossControl": f(loss_c), "credible": {"lower": f(lo), "upper": f(hi)}})
    return cases


def sequential():
    cases = []
    for alpha, tuning, t, z in [(0.05, 10000, 2000, 2.5), (0.05, 10000, 10000, 1.0),
                                (0.01, 500, 100000, 4.2), (0.1, 1e6, 50, 0.3)]:
        l = 2 * math.log(1 / alpha)
        rho2 = (l + math.log(1 + l)) / tuning
        mult = math.sqrt(2 * (t * rho2 + 1) / (t**2 * rho2) * math.log(math.sqrt(t * rho2 + 1) / alpha) * t)
        p = min(1.0, math.sqrt(t * rho2 + 1) * math.exp(-z * z * t * rho2 / (2 * (t * rho2 + 1))))
        cases.append({"alpha": alpha, "tuning": tuning, "t": t, "z": z, "multiplier": mult, "pValue": p})
    return cases


def stratified():
    """Results by period (a rollout): each period's difference combined with
    weights W_p proportional to 1/(1/n_c + 1/n_t). The combined difference is
    checked against statsmodels' OLS of y on the treatment and one dummy per
    period (whose treatment coefficient has exactly these weights, Angrist
    1998); its SE is the stratified (Neyman) one, sqrt(sum W_p^2 (v_c + v_t)),
    written out here with numpy."""
    import statsmodels.api as sm
    cases = []

    def ols_diff(cells):
        ys, ts, ds = [], [], []
        for p, (yc, yt) in enumerate(cells):
            for t, y in ((0, yc), (1, yt)):
                ys.extend(y)
                ts.extend([t] * len(y))
                ds.extend([p] * len(y))
        X = np.column_stack([np.array(ts, float)] +
                            [np.array([1.0 if d == p else 0.0 for d in ds]) for p in range(len(cells))])
        return float(sm.OLS(np.array(ys, float), X).fit().params[0])

    def combine(cells, ddof):
        w = np.array([1 / (1 / len(yc) + 1 / len(yt)) for yc, yt in cells])
        w = w / w.sum()
        mc = sum(wp * np.mean(yc) for wp, (yc, yt) in zip(w, cells))
        mt = sum(wp * np.mean(yt) for wp, (yc, yt) in zip(w, cells))
        parts_c = [wp**2 * np.var(yc, ddof=ddof) / len(yc) for wp, (yc, yt) in zip(w, cells)]
        parts_t = [wp**2 * np.var(yt, ddof=ddof) / len(yt) for wp, (yc, yt) in zip(w, cells)]
        vc, vt = sum(parts_c), sum(parts_t)
        parts = [(v, len(yc)) for v, (yc, yt) in zip(parts_c, cells)] + \
                [(v, len(yt)) for v, (yc, yt) in zip(parts_t, cells)]
        df = (vc + vt) ** 2 / sum(v**2 / (n - 1) for v, n in parts)
        return [float(x) for x in w], float(mc), float(mt), float(vc), float(vt), float(df)

    # Conversions: (conversions, users) per arm and period.
    for counts in [[((570, 1900), (45, 100)), ((300, 1000), (450, 1000)), ((95, 400), (410, 1600))],
                   [((200, 1000), (25, 110)), ((810, 2000), (830, 2010))]]:
        cells = [([1] * kc + [0] * (nc - kc), [1] * kt + [0] * (nt - kt)) for (kc, nc), (kt, nt) in counts]
        w, mc, mt, vc, vt, _ = combine(cells, 0)
        diff = mt - mc
        assert abs(diff - ols_diff(cells)) < 1e-12
        se = math.sqrt(vc + vt)
        alpha, alt = 0.05, "two-sided"
        c = crit_z(alpha, alt)
        units = sum(nc + nt for (kc, nc), (kt, nt) in counts)
        want = {"weights": w, "diff": ols_diff(cells), "se": se, "statistic": diff / se,
                "pValue": p_value(diff / se, alt), "df": 0, "interval": interval(diff, c * se, alt)}
        want.update(relative_test(mt, vt, mc, vc, alpha, alt, c, nonneg=True, units=units))
        cases.append({"kind": "proportion", "counts": [[list(a), list(b)] for a, b in counts], "want": want})

    # Means: raw values per arm and period, Welch-Satterthwaite df over the parts.
    for sizes in [[(40, 12), (30, 30)], [(25, 8), (60, 55), (9, 30)]]:
        cells = []
        for p, (nc, nt) in enumerate(sizes):
            cells.append((raw(rng.normal(10 + 2 * p, 3, nc)), raw(rng.normal(11 + 2 * p, 4, nt))))
        w, mc, mt, vc, vt, df = combine(cells, 1)
        diff = mt - mc
        assert abs(diff - ols_diff(cells)) < 1e-10
        se = math.sqrt(vc + vt)
        alpha, alt = 0.05, "two-sided"
        c = crit_t(alpha, alt, df)
        units = sum(nc + nt for nc, nt in sizes)
        want = {"weights": w, "diff": ols_diff(cells), "se": se, "statistic": diff / se,
                "pValue": p_value(diff / se, alt, df), "df": df, "interval": interval(diff, c * se, alt)}
        want.update(relative_test(mt, vt, mc, vc, alpha, alt, c, df=df, units=units))
        cases.append({"kind": "mean", "values": [[a, b] for a, b in cells], "want": want})
    return cases


def compare_quantiles(c, t, units):
    """Two arms' quantiles compared: the z-test on the difference with SE
    sqrt(SE_c^2 + SE_t^2) and the relative effect's own test."""
    diff = t["estimate"] - c["estimate"]
    se = math.sqrt(c["se"] ** 2 + t["se"] ** 2)
    alpha, alt = 0.05, "two-sided"
    crit = crit_z(alpha, alt)
    want = {"diff": diff, "se": se, "statistic": diff / se, "pValue": p_value(diff / se, alt), "df": 0,
            "interval": interval(diff, crit * se, alt)}
    want.update(relative_test(t["estimate"], t["se"] ** 2, c["estimate"], c["se"] ** 2, alpha, alt, crit, units=units))
    return want


def quantiles():
    """Quantile metrics: the sample quantile x_(ceil(nq)) (numpy's
    'inverted_cdf'), the order statistics' interval [x_(l), x_(u)] with
    l = floor(nq - z sqrt(nq(1-q))), u = ceil(nq + z sqrt(nq(1-q))) (Conover
    1999, 3.2), SE = (x_(u) - x_(l))/(2 z) at z = norm.ppf(0.975) (Price and
    Bonett 2002), and the arms compared with the z-test and the delta method."""
    cases = []
    z = float(st.norm.ppf(0.975))
    for (nc, nt, mu_t, q) in [(200, 260, 0.0, 0.5), (1000, 1200, 0.15, 0.9), (3000, 2800, 0.1, 0.99), (30, 35, 0.3, 0.5)]:
        xc = raw(np.exp(rng.normal(4.0, 0.5, nc)))
        xt = raw(np.exp(rng.normal(4.0 + mu_t, 0.5, nt)))
        arms = []
        for x in (xc, xt):
            xs = np.sort(np.array(x))
            n = len(xs)
            nq = n * q
            h = z * math.sqrt(nq * (1 - q))
            e = int(min(n, max(1, math.ceil(nq))))
            lo = int(min(n, max(1, math.floor(nq - h))))
            hi = int(min(n, max(1, math.ceil(nq + h))))
            est = float(xs[e - 1])
            assert est == float(np.quantile(xs, q, method="inverted_cdf"))
            se = float((xs[hi - 1] - xs[lo - 1]) / (2 * z))
            arms.append({"n": n, "estimate": est, "se": se, "ranks": [e, lo, hi]})
        cases.append({"q": q, "control": xc, "treatment": xt, "arms": arms, "want": compare_quantiles(*arms, units=nc + nt)})
    return cases


def event_quantiles():
    """Quantile metrics over events, each user's events a cluster: the
    sample quantile xi = x_(e), e = ceil(Mq), of all M events (numpy's
    'inverted_cdf'); with S_i the user's events <= xi and N_i all their
    events, the fraction below xi is the ratio sum S / sum N, whose
    delta-method variance (Deng, Knoblich and Lu, KDD 2018, section 4) is
    (s_S^2 - 2 r s_SN + r^2 s_N^2) / (K mean(N)^2), r = sum S / sum N, with
    numpy's sample covariance (ddof 1); h = z M sqrt(var), the interval
    [x_(l), x_(u)], l = floor(Mq - h), u = ceil(Mq + h), and SE = (x_(u) -
    x_(l))/(2 z) as for the quantiles over users. Its own generator, so that
    the sections above keep their values."""
    g = np.random.default_rng(20261206)
    cases = []
    z = float(st.norm.ppf(0.975))
    for (kc, kt, m, su, se_, mu_t, q) in [(150, 170, 6, 0.6, 0.4, 0.0, 0.5), (400, 380, 12, 0.5, 0.5, 0.2, 0.9),
                                          (800, 900, 8, 0.7, 0.3, 0.1, 0.99), (40, 45, 3, 0.5, 0.5, 0.3, 0.5)]:
        arms, data = [], []
        for k, mu in ((kc, 4.0), (kt, 4.0 + mu_t)):
            users = []
            for _ in range(k):
                n = 1 + int(g.poisson(m - 1))
                u = g.normal(0, su)
                users.append(raw(np.exp(mu + u + g.normal(0, se_, n))))
            data.append(users)
            xs = np.sort(np.concatenate([np.array(x) for x in users]))
            big_m = len(xs)
            e = int(min(big_m, max(1, math.ceil(big_m * q))))
            xi = float(xs[e - 1])
            assert xi == float(np.quantile(xs, q, method="inverted_cdf"))
            s_i = np.array([sum(1 for v in x if v <= xi) for x in users], dtype=float)
            n_i = np.array([len(x) for x in users], dtype=float)
            cov = np.cov(np.vstack([s_i, n_i]), ddof=1)
            r = s_i.sum() / n_i.sum()
            var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (k * n_i.mean() ** 2)
            h = z * big_m * math.sqrt(var)
            lo = int(min(big_m, max(1, math.floor(big_m * q - h))))
            hi = int(min(big_m, max(1, math.ceil(big_m * q + h))))
            # the iid (Conover) interval, too narrow for clustered events
            h0 = z * math.sqrt(big_m * q * (1 - q))
            naive = [int(min(big_m, max(1, math.floor(big_m * q - h0)))), int(min(big_m, max(1, math.ceil(big_m * q + h0))))]
            arms.append({"users": k, "events": big_m, "estimate": xi, "se": f((xs[hi - 1] - xs[lo - 1]) / (2 * z)),
                         "ranks": [e, lo, hi], "naiveRanks": naive, "variance": f(var)})
        cases.append({"q": q, "control": data[0], "treatment": data[1], "arms": arms, "want": compare_quantiles(*arms, units=kc + kt)})
    return cases


def main():
    golden = {
        "generator": "stats/testdata/gen_golden.py",
        "versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__,
                     "numpy": np.__version__, "mpmath": mp.__version__},
        "distributions": distributions(),
        "welch": welch(),
        "proportions": proportions(),
        "newcombe": newcombe(),
        "ratio": ratio(),
        "cuped": cuped(),
        "srm": srm(),
        "corrections": corrections(),
        "bonferroniIntervals": bonferroni_intervals(),
        "manyVariants": many_variants(),
        "power": power(),
        "powerPerArm": power_per_arm(),
        "powerT": power_t(),
        "bayes": bayes(),
        "bayesPrior": bayes_prior(),
        "sequential": sequential(),
        "stratified": stratified(),
        "quantiles": quantiles(),
        "eventQuantiles": event_quantiles(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as fh:
        json.dump(golden, fh, indent=1, allow_nan=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
