# Reference values for tests/test_group_sequential.py: rpact group-sequential designs
# (boundaries, spending, stopping probabilities, drift) and getPowerSurvival figures.
# Run from the repository root:
#   Rscript benchmarks/rpact/group_sequential_references.R > sim/qualify/references/reference_group_sequential.json
# rpact 3.3.4 on R 4.2.2 (Debian r-cran-rpact). Each record carries the R call that made it.
suppressPackageStartupMessages({library(rpact); library(jsonlite)})

design_calls <- list(
  obf3 = "getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, sided = 1, typeOfDesign = 'asOF')",
  pocock2_two_sided = "getDesignGroupSequential(kMax = 2, alpha = 0.05, beta = 0.1, sided = 2, typeOfDesign = 'asP')",
  hsd4 = "getDesignGroupSequential(kMax = 4, alpha = 0.025, beta = 0.1, sided = 1, typeOfDesign = 'asHSD', gammaA = -4)",
  kd3_unequal = "getDesignGroupSequential(informationRates = c(0.4, 0.7, 1), alpha = 0.1, beta = 0.2, sided = 1, typeOfDesign = 'asKD', gammaA = 3)",
  obf2_bshsd_nonbinding = "getDesignGroupSequential(informationRates = c(0.5, 1), alpha = 0.1, beta = 0.2, sided = 1, typeOfDesign = 'asOF', typeBetaSpending = 'bsHSD', gammaB = -2, bindingFutility = FALSE)",
  obf2_bshsd_binding = "getDesignGroupSequential(informationRates = c(0.5, 1), alpha = 0.1, beta = 0.2, sided = 1, typeOfDesign = 'asOF', typeBetaSpending = 'bsHSD', gammaB = -2, bindingFutility = TRUE)",
  hsd3_bsof_nonbinding = "getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.1, sided = 1, typeOfDesign = 'asHSD', gammaA = -4, typeBetaSpending = 'bsOF', bindingFutility = FALSE)",
  kd4_bskd_binding = "getDesignGroupSequential(kMax = 4, alpha = 0.05, beta = 0.2, sided = 1, typeOfDesign = 'asKD', gammaA = 2, typeBetaSpending = 'bsKD', gammaB = 2, bindingFutility = TRUE)",
  pocock3_bsp_nonbinding = "getDesignGroupSequential(informationRates = c(0.3, 0.6, 1), alpha = 0.025, beta = 0.2, sided = 1, typeOfDesign = 'asP', typeBetaSpending = 'bsP', bindingFutility = FALSE)",
  obf3_bshsd_nonbinding_01 = "getDesignGroupSequential(informationRates = c(0.35, 0.7, 1), alpha = 0.1, beta = 0.2, sided = 1, typeOfDesign = 'asOF', typeBetaSpending = 'bsHSD', gammaB = -2, bindingFutility = FALSE)"
)

out <- list(rpact = as.character(packageVersion("rpact")), designs = list(), power = list())
for (name in names(design_calls)) {
  call <- design_calls[[name]]
  d <- eval(parse(text = call))
  ch <- getDesignCharacteristics(d)
  fut <- if (length(d$futilityBounds) && !all(is.na(d$futilityBounds))) d$futilityBounds else NULL
  out$designs[[name]] <- list(
    call = call, characteristics_call = "getDesignCharacteristics(design)",
    information = d$informationRates, alpha = d$alpha, beta = d$beta, sided = d$sided,
    type = d$typeOfDesign, gammaA = d$gammaA, typeBetaSpending = d$typeBetaSpending,
    gammaB = d$gammaB, binding = d$bindingFutility,
    critical = d$criticalValues, futility = fut,
    alpha_spent = d$alphaSpent, beta_spent = if (d$typeBetaSpending != "none") d$betaSpent else NULL,
    power = d$power,
    shift = ch$shift, inflation = ch$inflationFactor,
    rejection_h1 = ch$rejectionProbabilities, futility_h1 = ch$futilityProbabilities,
    asn_h1 = ch$averageSampleNumber1, asn_h0 = ch$averageSampleNumber0)
}

# Power and stopping probabilities of a survival trial: the textbook accrual (as in
# design_references.R), OBF efficacy at 50% and 100% of 70 events, HSD(-2) beta spending.
power_calls <- list(
  textbook_obf_bshsd = paste0(
    "getPowerSurvival(design = getDesignGroupSequential(informationRates = c(0.5, 1), ",
    "alpha = 0.1, beta = 0.2, sided = 1, typeOfDesign = 'asOF', typeBetaSpending = 'bsHSD', ",
    "gammaB = -2, bindingFutility = FALSE), typeOfComputation = 'Schoenfeld', hazardRatio = 0.6, ",
    "directionUpper = FALSE, maxNumberOfEvents = 70, maxNumberOfSubjects = 104, ",
    "lambda2 = log(2) / 6.8, accrualTime = c(0, 2, 4, 6), accrualIntensity = c(2.8, 4.2, 4.9, 5.6), ",
    "dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12)"),
  textbook_hsd3_null = paste0(
    "getPowerSurvival(design = getDesignGroupSequential(informationRates = c(1/3, 2/3, 1), ",
    "alpha = 0.1, sided = 1, typeOfDesign = 'asHSD', gammaA = -4), typeOfComputation = 'Schoenfeld', ",
    "hazardRatio = 0.75, directionUpper = FALSE, maxNumberOfEvents = 70, maxNumberOfSubjects = 104, ",
    "lambda2 = log(2) / 6.8, accrualTime = c(0, 2, 4, 6), accrualIntensity = c(2.8, 4.2, 4.9, 5.6), ",
    "dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12)")
)
for (name in names(power_calls)) {
  call <- power_calls[[name]]
  p <- eval(parse(text = call))
  out$power[[name]] <- list(
    call = call, reject_per_stage = p$rejectPerStage[, 1],
    futility_per_stage = as.numeric(p$futilityPerStage),
    early_stop = p$earlyStop, overall_reject = p$overallReject,
    expected_events = p$expectedNumberOfEvents, analysis_time = p$analysisTime[, 1],
    events_per_stage = p$eventsPerStage[, 1], study_duration = p$studyDuration,
    critical_hr = as.numeric(p$criticalValuesEffectScale),
    futility_hr = as.numeric(p$futilityBoundsEffectScale))
}
# Simulated stopping probabilities and look times of the textbook trial (as in textbook.R)
# under three designs, at HR 0.6 and HR 1: getSimulationSurvival, 20,000 iterations each.
sim_designs <- list(
  obf2_bshsd = "getDesignGroupSequential(informationRates = c(0.5, 1), alpha = 0.1, beta = 0.2, sided = 1, typeOfDesign = 'asOF', typeBetaSpending = 'bsHSD', gammaB = -2, bindingFutility = FALSE)",
  hsd3 = "getDesignGroupSequential(informationRates = c(1/3, 2/3, 1), alpha = 0.1, sided = 1, typeOfDesign = 'asHSD', gammaA = -4)",
  pocock3_bsp = "getDesignGroupSequential(informationRates = c(0.3, 0.6, 1), alpha = 0.1, beta = 0.2, sided = 1, typeOfDesign = 'asP', typeBetaSpending = 'bsP', bindingFutility = FALSE)"
)
out$simulation <- list()
for (name in names(sim_designs)) {
  for (hr in c(0.6, 1)) {
    design <- eval(parse(text = sim_designs[[name]]))
    events <- round(design$informationRates * 70)
    call <- paste0("getSimulationSurvival(design = ", sim_designs[[name]],
      ", directionUpper = FALSE, median2 = 6.8, hazardRatio = ", hr,
      ", allocation1 = 1, allocation2 = 1, accrualTime = c(0, 2, 4, 6), ",
      "accrualIntensity = c(2.8, 4.2, 4.9, 5.6), accrualIntensityType = 'absolute', ",
      "maxNumberOfSubjects = 104, dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12, ",
      "plannedEvents = c(", paste(events, collapse = ", "), "), ",
      "maxNumberOfIterations = 20000, seed = 1)")
    s <- eval(parse(text = call))
    out$simulation[[paste0(name, "_hr", hr)]] <- list(
      call = call, iterations = 20000, hazard_ratio = hr, events = events,
      reject_per_stage = as.numeric(s$rejectPerStage),
      futility_per_stage = as.numeric(s$futilityPerStage),
      early_stop = as.numeric(s$earlyStop), overall_reject = s$overallReject,
      analysis_time = as.numeric(s$analysisTime), expected_events = s$expectedNumberOfEvents,
      study_duration = s$studyDuration,
      iterations_per_stage = as.numeric(s$iterations))
  }
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"), "\n")
