# Reference values for tests/test_assurance.py, tests/test_predictive.py and sim/qualify: power from rpact
# averaged over a design prior (assurance), and rpact's conditional power at an interim.
# Run from the repository root:
#   Rscript sim/qualify/references/assurance_rpact.R > sim/qualify/references/assurance_rpact.json
# rpact 3.3.4 on R 4.2.2 (Debian r-cran-rpact). Each record carries the R call that made it.
#
# Assurance: a lognormal prior on the hazard ratio, -log HR ~ Normal(mu, sd^2) with
# mu = -log(median), is averaged by 40-node Gauss-Hermite quadrature: HR_i = exp(-(mu + sd x_i))
# for the probabilists' nodes x_i and weights w_i (sum 1), computed here by Golub-Welsch (the
# eigen-decomposition of the Jacobi matrix of the Hermite polynomials He_n), not taken from
# numpy; assurance = sum_i w_i * overallReject(HR_i). A mixture prior is the weighted sum of
# overallReject at its values. Power is Schoenfeld's (typeOfComputation = 'Schoenfeld'), so it
# depends on the events alone; the accrual and hazards are there because rpact asks for them.
suppressPackageStartupMessages({library(rpact); library(jsonlite)})

gauss_hermite <- function(n) {
  jacobi <- matrix(0, n, n)
  off <- sqrt(seq_len(n - 1))
  jacobi[cbind(1:(n - 1), 2:n)] <- off
  jacobi[cbind(2:n, 1:(n - 1))] <- off
  e <- eigen(jacobi, symmetric = TRUE)
  list(x = e$values, w = e$vectors[1, ]^2)
}
gh <- gauss_hermite(40)

designs <- list(
  fixed = "getDesignGroupSequential(kMax = 1, alpha = 0.025, sided = 1)",
  obf2 = "getDesignGroupSequential(kMax = 2, informationRates = c(0.6, 1), typeOfDesign = 'asOF', alpha = 0.025, sided = 1)"
)
power_call <- function(design, events, ratio, subjects) {
  paste0(
    "getPowerSurvival(design = ", design, ", typeOfComputation = 'Schoenfeld', ",
    "hazardRatio = HR, directionUpper = FALSE, maxNumberOfEvents = ", events,
    ", allocationRatioPlanned = ", ratio, ", maxNumberOfSubjects = ", subjects,
    ", lambda2 = log(2) / 6.8, accrualTime = c(0, 12))")
}
power_at <- function(call, HR) eval(parse(text = call))$overallReject

cases <- list(
  fixed_lognormal = list(design = "fixed", events = 70, ratio = 1, subjects = 104,
                         prior = list(distribution = "lognormal", median = 0.6, sd_log = 0.25)),
  fixed_lognormal_2to1 = list(design = "fixed", events = 120, ratio = 2, subjects = 300,
                              prior = list(distribution = "lognormal", median = 0.7, sd_log = 0.4)),
  obf2_lognormal = list(design = "obf2", events = 70, ratio = 1, subjects = 104,
                        prior = list(distribution = "lognormal", median = 0.6, sd_log = 0.25)),
  obf2_lognormal_2to1 = list(design = "obf2", events = 120, ratio = 2, subjects = 300,
                             prior = list(distribution = "lognormal", median = 0.7, sd_log = 0.4)),
  fixed_mixture = list(design = "fixed", events = 70, ratio = 1, subjects = 104,
                       prior = list(distribution = "mixture", values = c(0.6, 1.0), weights = c(0.7, 0.3))),
  obf2_mixture = list(design = "obf2", events = 70, ratio = 1, subjects = 104,
                      prior = list(distribution = "mixture", values = c(0.6, 1.0), weights = c(0.7, 0.3)))
)

out <- list(rpact = as.character(packageVersion("rpact")), R = R.version.string,
            quadrature = "40-node probabilists' Gauss-Hermite (Golub-Welsch in R)",
            designs = list(), assurance = list(), conditional_power = list())
for (name in names(designs)) {
  d <- eval(parse(text = designs[[name]]))
  out$designs[[name]] <- list(call = designs[[name]], information = d$informationRates,
                              critical = d$criticalValues)
}
for (name in names(cases)) {
  case <- cases[[name]]
  call <- power_call(designs[[case$design]], case$events, case$ratio, case$subjects)
  prior <- case$prior
  if (prior$distribution == "lognormal") {
    hr <- exp(-(-log(prior$median) + prior$sd_log * gh$x))
    weights <- gh$w
  } else {
    hr <- prior$values
    weights <- prior$weights
  }
  power <- power_at(call, hr)
  record <- list(call = call, HR = "the prior's nodes (see the header)", design = case$design,
                 events = case$events, allocation_ratio = case$ratio, alpha = 0.025,
                 prior = prior, assurance = sum(weights * power),
                 power_at_median = if (prior$distribution == "lognormal") power_at(call, prior$median) else NULL)
  if (prior$distribution == "mixture") record$power_at_values <- power
  out$assurance[[name]] <- record
}

# Conditional power after the first look of the two-look design (42 of 70 events), at the
# design effect (thetaH1 = 0.6) and at the observed trend (thetaH1 left out).
d <- eval(parse(text = designs$obf2))
for (z in c(0.4, 1.3, 2.2)) {
  data_call <- sprintf("getDataset(overallEvents = c(42), overallLogRanks = c(%s), overallAllocationRatios = c(1))", -z)
  ds <- eval(parse(text = data_call))
  sr <- getStageResults(d, dataInput = ds, stage = 1, directionUpper = FALSE)
  design_cp <- getConditionalPower(sr, nPlanned = c(28), thetaH1 = 0.6)
  trend_cp <- getConditionalPower(sr, nPlanned = c(28))
  out$conditional_power[[sprintf("z_%s", z)]] <- list(
    call = paste0("getConditionalPower(getStageResults(", designs$obf2, ", dataInput = ", data_call,
                  ", stage = 1, directionUpper = FALSE), nPlanned = c(28), thetaH1 = 0.6)",
                  " and the same without thetaH1 (the observed trend)"),
    z = z, events = 42, max_events = 70, allocation_ratio = 1,
    design_hazard_ratio = 0.6, conditional_power_design = design_cp$conditionalPower[2],
    conditional_power_trend = trend_cp$conditionalPower[2])
}

# Conditional power of a three-look design after its first look (30 of 90 events): the
# probability of rejecting at look 2 or 3, cumulative by look (rpact's conditionalPower).
obf3 <- "getDesignGroupSequential(kMax = 3, typeOfDesign = 'asOF', alpha = 0.025, sided = 1)"
d3 <- eval(parse(text = obf3))
out$designs$obf3 <- list(call = obf3, information = d3$informationRates, critical = d3$criticalValues)
out$conditional_power_sequential <- list()
for (z in c(0.3, 1.1, 2.4)) {
  data_call <- sprintf("getDataset(overallEvents = c(30), overallLogRanks = c(%s), overallAllocationRatios = c(1))", -z)
  sr <- getStageResults(d3, dataInput = eval(parse(text = data_call)), stage = 1, directionUpper = FALSE)
  design_cp <- getConditionalPower(sr, nPlanned = c(30, 30), thetaH1 = 0.6)
  trend_cp <- getConditionalPower(sr, nPlanned = c(30, 30))
  out$conditional_power_sequential[[sprintf("z_%s", z)]] <- list(
    call = paste0("getConditionalPower(getStageResults(", obf3, ", dataInput = ", data_call,
                  ", stage = 1, directionUpper = FALSE), nPlanned = c(30, 30), thetaH1 = 0.6)",
                  " and the same without thetaH1 (the observed trend)"),
    z = z, events = 30, max_events = 90, allocation_ratio = 1, design_hazard_ratio = 0.6,
    conditional_power_design = design_cp$conditionalPower[2:3],
    conditional_power_trend = trend_cp$conditionalPower[2:3])
}
cat(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "\n")
