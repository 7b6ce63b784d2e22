# Reference values for tests/test_nph.py and sim/qualify (R 4.x, survival 3.5-3, mvtnorm 1.1-3),
# committed in sim/qualify/references/nph_r.json.
# Data: sim/qualify/references/nph_reference.csv (120 patients, 80 events, ties from ceiling()).
# Run: Rscript benchmarks/nph/references.R
library(survival)
library(mvtnorm)
d <- read.csv("sim/qualify/references/nph_reference.csv")
for (rho in c(0, 1, 0.5)) {
  s <- survdiff(Surv(time, event) ~ arm, data = d, rho = rho)
  cat(sprintf("unstrat rho=%g o-e=%.12f var=%.12f z=%.12f\n", rho, s$obs[2] - s$exp[2],
              s$var[2, 2], (s$obs[2] - s$exp[2]) / sqrt(s$var[2, 2])))
  s <- survdiff(Surv(time, event) ~ arm + strata(stratum), data = d, rho = rho)
  oe <- sum(s$obs[2, ]) - sum(s$exp[2, ])
  cat(sprintf("strat rho=%g o-e=%.12f var=%.12f z=%.12f\n", rho, oe, s$var[2, 2],
              oe / sqrt(s$var[2, 2])))
}
f <- survfit(Surv(time, event) ~ arm, data = d)
print(summary(f, rmean = 12)$table[, c("rmean", "se(rmean)")], digits = 12)
print(summary(f, times = 12), digits = 12)
# MaxCombo FH(0,0), FH(0,1), FH(1,1), FH(1,0) unstratified: the correlation matrix and the
# minimum z computed by sim.stats.weighted.maxcombo on the same data (singular: rank 3).
C <- matrix(c(1, 0.8084180410078081, 0.8806140007345076, 0.944480796567077,
              0.8084180410078081, 1.0, 0.9300649798984122, 0.5701381239194597,
              0.8806140007345076, 0.9300649798984122, 1.0, 0.7099437588918932,
              0.944480796567077, 0.5701381239194597, 0.7099437588918932, 1), 4)
z <- -3.0088763163202747
set.seed(1)
alg <- GenzBretz(maxpts = 1e7, abseps = 1e-10, releps = 0)
cat(sprintf("maxcombo one-sided %.12f two-sided %.12f\n",
            1 - pmvnorm(lower = rep(z, 4), upper = rep(Inf, 4), corr = C, algorithm = alg),
            1 - pmvnorm(lower = rep(z, 4), upper = rep(-z, 4), corr = C, algorithm = alg)))
