# Reference for tests/test_prior_wiring.py: simulated assurance of the textbook design
# (scenarios/textbook.yaml) with the design prior HR ~ lognormal(median 0.6, sd_log 0.25):
# rpact's getSimulationSurvival power (overallReject) at each of the prior's 40 Gauss-Hermite
# nodes, averaged with the nodes' weights. Run from the repository root:
#   Rscript tests/references/assurance_simulation_rpact.R > tests/references/assurance_simulation_rpact.json
# rpact 3.3.4 on R 4.2.2 (Debian r-cran-rpact). The textbook design: one-sided alpha 0.10, the
# analysis at 70 events, 104 patients 1:1, exponential PFS with control median 6.8 months,
# dropout 5% by 12 months (exponential) in both arms, accrual 2.8, 4.2, 4.9 and then 5.6
# patients per month (2-month pieces), progression seen when it happens. rpact's simulation is
# the unstratified log-rank (no ties correction: the times are continuous).
suppressPackageStartupMessages({library(rpact); library(jsonlite)})

gauss_hermite <- function(n) {  # probabilists' nodes and weights (sum 1), Golub-Welsch
  jacobi <- matrix(0, n, n)
  off <- sqrt(seq_len(n - 1))
  jacobi[cbind(1:(n - 1), 2:n)] <- off
  jacobi[cbind(2:n, 1:(n - 1))] <- off
  e <- eigen(jacobi, symmetric = TRUE)
  list(x = e$values, w = e$vectors[1, ]^2)
}
gh <- gauss_hermite(40)
median <- 0.6
sd_log <- 0.25
HR <- exp(log(median) - sd_log * gh$x)  # theta = -log HR = -log(median) + sd_log x
iterations <- 4000
seed <- 20261206

call <- paste0(
  "getSimulationSurvival(design = getDesignGroupSequential(kMax = 1, alpha = 0.10, sided = 1), ",
  "hazardRatio = HR, directionUpper = FALSE, lambda2 = log(2) / 6.8, ",
  "dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12, ",
  "accrualTime = c(0, 2, 4, 6), accrualIntensity = c(2.8, 4.2, 4.9, 5.6), ",
  "maxNumberOfSubjects = 104, plannedEvents = 70, allocation1 = 1, allocation2 = 1, ",
  "maxNumberOfIterations = ", iterations, ", seed = ", seed, ")")
sim <- eval(parse(text = call))
power <- sim$overallReject
assurance <- sum(gh$w * power)
# each node's power is a binomial share of `iterations` independent trials
mc_se <- sqrt(sum(gh$w^2 * power * (1 - power) / iterations))
cat(toJSON(list(
  rpact = as.character(packageVersion("rpact")), R = R.version.string,
  call = call, HR = "exp(log(0.6) - 0.25 x_i), x_i the 40 probabilists' Gauss-Hermite nodes",
  prior = list(distribution = "lognormal", median = median, sd_log = sd_log),
  nodes = HR, weights = gh$w, power = power,
  assurance = assurance, assurance_mc_se = mc_se
), auto_unbox = TRUE, digits = NA, pretty = TRUE))
cat("\n")
