#!/usr/bin/python3
"""Reference values for tests/stats, computed by scipy and statsmodels (independent of abrec).

Writes JSON to stdout. Run by tests/stats/run_with_reference.py before the C++ test
executable, under Debian's /usr/bin/python3 (python3-scipy, python3-statsmodels; installed by
scripts/install-deps.sh). Data sets are drawn here with fixed seeds; the C++ side receives
only what abrec's store keeps (n, Σy, Σy² as exact integers) and must reproduce scipy's and
statsmodels' numbers from them.
"""
import json
import sys

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW


def proportions():
    cases = []
    for xc, nc, xt, nt, alpha in [(1000, 20000, 1100, 20000, 0.05),
                                  (48, 1000, 71, 1000, 0.05),
                                  (3, 150, 9, 160, 0.10),
                                  (51234, 821588, 52765, 815482, 0.01),
                                  (500, 500, 498, 500, 0.05)]:
        z, p = proportions_ztest([xt, xc], [nt, nc], alternative="two-sided")  # pooled
        low, high = confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff",
                                               alpha=alpha)
        cases.append(dict(xc=xc, nc=nc, xt=xt, nt=nt, alpha=alpha, z=float(z), p=float(p),
                          diff_low=float(low), diff_high=float(high)))
    return cases


def welch():
    rng = np.random.default_rng(20261129)
    cases = []
    # Per-user premium in cents: zero-inflated and heavy-tailed like the real thing, then two
    # small and unequal arms, then integer counts (clicks per user).
    specs = [
        ("premium", lambda n, lift: np.where(rng.random(n) < 0.08,
                                             np.round(rng.lognormal(11 + lift, 1.0, n)), 0),
         5000, 5200, 0.05, 0.05),
        ("small", lambda n, lift: np.round(rng.normal(100 + 40 * lift, 15 + 30 * lift, n)),
         12, 30, 1.0, 0.05),
        ("clicks", lambda n, lift: rng.poisson(0.7 + lift, n), 20000, 19000, 0.02, 0.10),
    ]
    for name, draw, nc, nt, lift, alpha in specs:
        yc = draw(nc, 0.0).astype(np.int64)
        yt = draw(nt, lift).astype(np.int64)
        cm = CompareMeans(DescrStatsW(yt.astype(float)), DescrStatsW(yc.astype(float)))
        t, p, df = cm.ttest_ind(usevar="unequal")
        low, high = cm.tconfint_diff(alpha=alpha, usevar="unequal")
        t2, p2 = stats.ttest_ind(yt, yc, equal_var=False)  # scipy agrees with statsmodels
        assert abs(t - t2) < 1e-9 and abs(p - p2) < 1e-12
        cases.append(dict(name=name, alpha=alpha,
                          nc=int(nc), sum_c=str(int(yc.sum())), sum_sq_c=str(int((yc * yc).sum())),
                          nt=int(nt), sum_t=str(int(yt.sum())), sum_sq_t=str(int((yt * yt).sum())),
                          mean_c=float(yc.mean()), mean_t=float(yt.mean()),
                          var_c=float(yc.var(ddof=1)), var_t=float(yt.var(ddof=1)),
                          t=float(t), p=float(p), df=float(df), diff_low=float(low),
                          diff_high=float(high)))
    return cases


def srm():
    cases = []
    for counts, weights in [([821588, 815482], [0.5, 0.5]),           # Kohavi et al.'s example
                            ([5012, 4980, 45113, 44895], [0.05, 0.05, 0.45, 0.45]),
                            ([480, 560, 44000, 45000], [0.05, 0.05, 0.45, 0.45]),
                            ([5000, 5000, 60000, 30000], [0.05, 0.05, 0.6, 0.3])]:
        total = sum(counts)
        expected = [total * w / sum(weights) for w in weights]
        chi2, p = stats.chisquare(counts, expected)
        cases.append(dict(counts=counts, weights=weights, chi2=float(chi2), p=float(p)))
    return cases


def srm_zero_weight():
    """Pearson's chi-square over the buckets that should get users: a bucket of weight 0 and
    no users is left out (it adds no degree of freedom)."""
    cases = []
    for counts, weights in [([4980, 5105, 0, 45200, 44715], [0.05, 0.05, 0, 0.45, 0.45]),
                            ([5100, 0, 4900], [0.5, 0, 0.5])]:
        kept = [(c, w) for c, w in zip(counts, weights) if w > 0]
        total = sum(c for c, _ in kept)
        chi2, p = stats.chisquare([c for c, _ in kept],
                                  [total * w / sum(w for _, w in kept) for _, w in kept])
        cases.append(dict(counts=counts, weights=weights, chi2=float(chi2), p=float(p),
                          df=len(kept) - 1))
    return cases


def srm_sequential():
    """ln of the Bayes factor of a Dirichlet(c theta0) mixture of multinomials against the
    multinomial(theta0), by two routes that share no algebra with the C++ code:
    - "chain": the Dirichlet-multinomial and the multinomial factorised by Dirichlet
      aggregation into beta-binomials and binomials (bucket i against the buckets after it),
      ln BF = sum of scipy.stats.betabinom.logpmf - scipy.stats.binom.logpmf;
    - "quadrature": two buckets, BF = integral over p of the Beta(c theta1, c theta2) density
      times (p / theta1)^n1 ((1 - p) / theta2)^n2, by scipy.integrate.quad."""
    from scipy import integrate

    def chain(counts, theta, alpha):
        log_bf, left = 0.0, sum(counts)
        for i in range(len(counts) - 1):
            rest_alpha, rest_theta = sum(alpha[i + 1:]), sum(theta[i:])
            log_bf += (stats.betabinom.logpmf(counts[i], left, alpha[i], rest_alpha)
                       - stats.binom.logpmf(counts[i], left, theta[i] / rest_theta))
            left -= counts[i]
        return float(log_bf)

    chains = []
    for counts, weights, c in [([5012, 4980, 45113, 44895], [0.05, 0.05, 0.45, 0.45], 1e4),
                               ([480, 560, 44000, 45000], [0.05, 0.05, 0.45, 0.45], 1e4),
                               ([821588, 815482], [0.5, 0.5], 1e4),
                               ([250321, 249750, 2250012, 2249917], [1, 1, 9, 9], 1e4),
                               ([50010000, 49990000], [0.5, 0.5], 1e4),
                               ([12, 30, 9], [0.3, 0.5, 0.2], 1.0),
                               ([3, 0, 1], [0.25, 0.25, 0.5], 2.5),
                               ([700, 9300], [0.1, 0.9], 100.0)]:
        theta = [w / sum(weights) for w in weights]
        chains.append(dict(counts=counts, weights=weights, concentration=c,
                           log_bf=chain(counts, theta, [c * t for t in theta])))

    quadratures = []
    for (n1, n2), (t1, t2), c in [((520, 480), (0.5, 0.5), 100.0),
                                  ((5100, 4900), (0.5, 0.5), 1e4),
                                  ((300, 700), (0.25, 0.75), 50.0),
                                  ((2700, 7300), (0.25, 0.75), 1e3)]:
        a1, a2 = c * t1, c * t2
        mode = (a1 + n1 - 1) / (a1 + a2 + n1 + n2 - 2)

        def integrand(p):
            return np.exp(stats.beta.logpdf(p, a1, a2) + n1 * np.log(p / t1)
                          + n2 * np.log((1 - p) / t2))
        bf, err = integrate.quad(integrand, 0, 1, points=[mode], limit=500, epsabs=0,
                                 epsrel=1e-11)
        assert err < 1e-8 * bf
        quadratures.append(dict(counts=[n1, n2], weights=[t1, t2], concentration=c,
                                bayes_factor=float(bf)))
    return dict(chain=chains, quadrature=quadratures)


def adjusted():
    cases = []
    for p in [[0.01, 0.04, 0.03, 0.005], [0.2, 0.2, 0.01, 0.5, 0.049], [0.9], [0.001, 0.5, 0.04]]:
        cases.append(dict(p=p, holm=[float(x) for x in multipletests(p, method="holm")[1]],
                          bh=[float(x) for x in multipletests(p, method="fdr_bh")[1]]))
    return cases


def power():
    """statsmodels' NormalIndPower for two equal arms; the effect size is δ over the root mean
    of the two arms' variances."""
    cases = []
    for baseline, sd, proportion, mde, alpha, pw in [(0.05, 0, True, 0.10, 0.05, 0.8),
                                                    (0.20, 0, True, 0.05, 0.05, 0.9),
                                                    (0.012, 0, True, 0.25, 0.01, 0.8),
                                                    (5400.0, 21000.0, False, 0.05, 0.05, 0.8)]:
        if proportion:
            p1, p2 = baseline, baseline * (1 + mde)
            var = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
        else:
            var = sd * sd
        es = baseline * mde / var ** 0.5
        n = NormalIndPower().solve_power(effect_size=es, alpha=alpha, power=pw, ratio=1.0,
                                         alternative="two-sided")
        cases.append(dict(baseline=baseline, sd=sd, proportion=proportion, mde=mde, alpha=alpha,
                          power=pw, n=float(n)))
    return cases


def cuped():
    """Regression adjustment with one and two pre-experiment covariates (x: premium held
    before, cents; z: products held), y the outcome (cents); some users have no covariates
    (x = z = 0). The reference is statsmodels' OLS y ~ 1 + treatment + covariates (Lin 2013's
    ANCOVA): its treatment coefficient is CUPED's adjusted difference; its heteroskedasticity-
    robust HC2 standard error is the reference for the adjusted difference's standard error."""
    import statsmodels.api as sm
    rng = np.random.default_rng(99)
    cases = []
    for n_c, n_t, effect, share_with_x, covariates in [(4000, 4100, 1500, 1.0, 1),
                                                       (3000, 2900, 0, 0.7, 1),
                                                       (5000, 5200, 800, 0.8, 2)]:
        def arm(n, lift):
            has = rng.random(n) < share_with_x
            z = rng.poisson(1.5, n) * has
            x = np.round(rng.lognormal(10, 0.6, n) * (1 + 0.3 * z)) * has
            y = np.round(0.8 * x + 4000 * z + rng.normal(3000 + lift, 6000, n))
            return x.astype(np.int64), z.astype(np.int64), y.astype(np.int64)
        xc, zc, yc = arm(n_c, 0)
        xt, zt, yt = arm(n_t, effect)
        x, z, y = np.concatenate([xc, xt]), np.concatenate([zc, zt]), np.concatenate([yc, yt])
        treat = np.concatenate([np.zeros(n_c), np.ones(n_t)])
        cols = [np.ones(len(y)), treat, x.astype(float)]
        if covariates == 2:
            cols.append(z.astype(float))
        fit = sm.OLS(y.astype(float), np.column_stack(cols)).fit(cov_type="HC2")
        plain = CompareMeans(DescrStatsW(yt.astype(float)), DescrStatsW(yc.astype(float)))
        def sums(xa, za, ya):
            return dict(n=int(len(xa)), sx=str(int(xa.sum())), sxx=str(int((xa * xa).sum())),
                        sz=str(int(za.sum())), szz=str(int((za * za).sum())),
                        sxz=str(int((xa * za).sum())),
                        sy=str(int(ya.sum())), syy=str(int((ya * ya).sum())),
                        sxy=str(int((xa * ya).sum())), szy=str(int((za * ya).sum())))
        cases.append(dict(control=sums(xc, zc, yc), treatment=sums(xt, zt, yt),
                          covariates=covariates, effect=effect,
                          difference=float(fit.params[1]), se_hc2=float(fit.bse[1]),
                          theta=[float(v) for v in fit.params[2:]],
                          plain_se=float(plain.std_meandiff_separatevar)))
    return cases


def contingency():
    """scipy.stats.chi2_contingency (no continuity correction) for drift (2 windows × k
    products) and demographic parity (k groups × shown / not shown)."""
    drift = []
    for ref, cur in [([500, 300, 150, 50], [480, 320, 140, 60]),
                     ([500, 300, 150, 50, 0], [200, 300, 350, 100, 50]),
                     ([1000, 10, 5], [990, 20, 5])]:
        chi2, p, dof, _ = stats.chi2_contingency([ref, [c for c in cur]], correction=False)
        # PSI is the symmetrised Kullback-Leibler divergence (scipy.stats.entropy normalises
        # its inputs); without zero shares, no floor is involved.
        psi = (float(stats.entropy(cur, ref) + stats.entropy(ref, cur)) if 0 not in ref + cur
               else None)
        drift.append(dict(reference=ref, current=cur, chi2=float(chi2), p=float(p), df=int(dof),
                          psi=psi))
    parity = []
    for groups in [[(1000, 120), (1100, 125)], [(800, 60), (900, 110), (400, 20)],
                   [(5000, 1500), (5200, 1040)]]:
        table = [[shown, users - shown] for users, shown in groups]
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
        parity.append(dict(groups=groups, chi2=float(chi2), p=float(p), df=int(dof)))
    return dict(drift=drift, parity=parity)


def classification():
    """AUC as scipy's Mann-Whitney U / (n+ n-) (ties by mid-ranks: a tie counts half), and log
    loss as the mean negative scipy.stats.bernoulli.logpmf; scores rounded to 2 decimals so
    that ties are common."""
    rng = np.random.default_rng(5)
    cases = []
    for n, rate in [(2000, 0.1), (300, 0.5), (50, 0.02)]:
        labels = (rng.random(n) < rate).astype(int)
        labels[0], labels[1] = 1, 0  # at least one of each
        scores = np.round(np.clip(rng.normal(0.3 + 0.2 * labels, 0.2), 0, 1), 2)
        u = stats.mannwhitneyu(scores[labels == 1], scores[labels == 0]).statistic
        auc = u / (labels.sum() * (n - labels.sum()))
        p = np.clip(scores, 1e-15, 1 - 1e-15)
        logloss = -np.mean(stats.bernoulli.logpmf(labels, p))
        cases.append(dict(scores=scores.tolist(), labels=labels.tolist(), auc=float(auc),
                          logloss=float(logloss)))
    return cases


def quantiles():
    """numpy.quantile (method "linear", type 7) of premium-like values with many zeros."""
    rng = np.random.default_rng(8)
    cases = []
    for n in (1, 2, 17, 1000):
        v = np.where(rng.random(n) < 0.1, np.round(rng.lognormal(11, 1.2, n)), 0.0)
        cases.append(dict(values=v.tolist(),
                          q={str(q): float(np.quantile(v, q)) for q in (0, 0.5, 0.9, 0.99, 1)}))
    return cases


def off_policy():
    """Logged rounds of users with several correlated rounds each (a user-level random effect on
    the click probability), uniform logging over 4 actions, a stochastic target policy and a
    reward model q̂ that is off by a user-independent error. The estimates by the Open Bandit
    Pipeline's formulas (obp/ope/estimators.py: InverseProbabilityWeighting, SelfNormalized-
    InverseProbabilityWeighting, DoublyRobust), written out with numpy; their standard errors
    clustered by user from statsmodels: OLS(term, 1).fit(cov_type="cluster") for IPS and DR,
    and for SNIPS = Σ y / Σ w its linearisation, WLS(y/w, 1, weights=w) with the same
    covariance (statsmodels' small-sample factor G/(G−1)·(N−1)/(N−K), K = 1)."""
    import statsmodels.api as sm
    rng = np.random.default_rng(1311)
    cases = []
    for users, max_rounds, effect_sd in [(300, 12, 0.08), (40, 4, 0.0), (1000, 3, 0.15)]:
        n_actions = 4
        mu = np.array([0.05, 0.12, 0.2, 0.3])
        per_user = rng.integers(1, max_rounds + 1, users)
        cluster = np.repeat(np.arange(users), per_user) * 7 + 3  # ids need not be dense
        effect = np.repeat(rng.normal(0, effect_sd, users), per_user)
        n = int(per_user.sum())
        action = rng.integers(0, n_actions, n)
        pscore = np.full(n, 1 / n_actions)
        target = rng.dirichlet(np.ones(n_actions), n)  # π_e(·|x_i)
        reward = (rng.random(n) < np.clip(mu[action] + effect, 0, 1)).astype(float)
        q_hat = np.clip(mu + 0.03, 0, 1)
        q_logged = q_hat[action]
        q_target = target @ q_hat
        iw = target[np.arange(n), action] / pscore
        ips_terms = reward * iw
        dr_terms = q_target + iw * (reward - q_logged)
        ips = ips_terms.mean()
        snips = (reward * iw / iw.mean()).mean()
        dr = dr_terms.mean()
        ones = np.ones(n)
        fit = dict(cov_type="cluster", cov_kwds={"groups": cluster})
        se_ips = sm.OLS(ips_terms, ones).fit(**fit).bse[0]
        se_dr = sm.OLS(dr_terms, ones).fit(**fit).bse[0]
        wls = sm.WLS(np.where(iw > 0, ips_terms / np.where(iw > 0, iw, 1), 0), ones, weights=iw)
        snips_fit = wls.fit(**fit)
        assert abs(snips_fit.params[0] - snips) < 1e-12
        se_snips = snips_fit.bse[0]
        cases.append(dict(reward=reward.tolist(), pscore=pscore.tolist(),
                          target=target[np.arange(n), action].tolist(),
                          q_logged=q_logged.tolist(), q_target=q_target.tolist(),
                          cluster=cluster.tolist(), users=int(users),
                          ips=float(ips), snips=float(snips), dr=float(dr),
                          se_ips=float(se_ips), se_snips=float(se_snips), se_dr=float(se_dr),
                          ess=float(iw.sum() ** 2 / (iw * iw).sum())))
    return cases


def main():
    json.dump(dict(source=f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}",
                   proportions=proportions(), welch=welch(), srm=srm(),
                   srm_zero_weight=srm_zero_weight(), srm_sequential=srm_sequential(),
                   adjusted=adjusted(),
                   power=power(), cuped=cuped(), contingency=contingency(),
                   classification=classification(), quantiles=quantiles(),
                   off_policy=off_policy()),
              sys.stdout, indent=1)


if __name__ == "__main__":
    main()
