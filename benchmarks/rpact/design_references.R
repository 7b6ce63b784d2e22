# Reference figures for tests/test_design.py and sim/qualify, printed to 15 digits and kept,
# each with its call, in sim/qualify/references/design_rpact.json.
# Run: Rscript benchmarks/rpact/design_references.R
suppressPackageStartupMessages(library(rpact))
options(digits = 15)
show <- function(label, x) cat(label, ":", format(x, digits = 15), "\n")

# Events: Schoenfeld and Freedman
d1 <- getDesignGroupSequential(kMax = 1, alpha = 0.1, sided = 1, beta = 0.2)
d2 <- getDesignGroupSequential(kMax = 1, alpha = 0.05, sided = 2, beta = 0.1)
d3 <- getDesignGroupSequential(kMax = 1, alpha = 0.025, sided = 1, beta = 0.15)
events <- function(design, type, hr, r) {
  getSampleSizeSurvival(design = design, typeOfComputation = type, hazardRatio = hr,
    allocationRatioPlanned = r, lambda2 = 0.05, accrualTime = c(0, 12),
    followUpTime = 12)$maxNumberOfEvents
}
show("Schoenfeld HR 0.6, 1:1, alpha 0.1 one-sided, power 0.8", events(d1, "Schoenfeld", 0.6, 1))
show("Freedman   HR 0.6, 1:1, alpha 0.1 one-sided, power 0.8", events(d1, "Freedman", 0.6, 1))
show("Schoenfeld HR 0.7, 2:1, alpha 0.05 two-sided, power 0.9", events(d2, "Schoenfeld", 0.7, 2))
show("Freedman   HR 0.7, 2:1, alpha 0.05 two-sided, power 0.9", events(d2, "Freedman", 0.7, 2))
show("Schoenfeld HR 1.5, 1:2, alpha 0.025 one-sided, power 0.85", events(d3, "Schoenfeld", 1.5, 0.5))
show("Freedman   HR 1.5, 1:2, alpha 0.025 one-sided, power 0.85", events(d3, "Freedman", 1.5, 0.5))

# Power and expected analysis time, textbook design
dp <- getDesignGroupSequential(kMax = 1, alpha = 0.1, sided = 1)
power_textbook <- function(type) {
  getPowerSurvival(design = dp, typeOfComputation = type, hazardRatio = 0.6,
    directionUpper = FALSE, maxNumberOfEvents = 70, maxNumberOfSubjects = 104,
    lambda2 = log(2) / 6.8, accrualTime = c(0, 2, 4, 6),
    accrualIntensity = c(2.8, 4.2, 4.9, 5.6), dropoutRate1 = 0.05, dropoutRate2 = 0.05,
    dropoutTime = 12)
}
pw <- power_textbook("Schoenfeld")
show("power Schoenfeld, 70 events", pw$overallReject)
show("analysis time for 70 events", pw$analysisTime[1, 1])
show("accrual times", pw$accrualTime)
show("power Freedman, 70 events", power_textbook("Freedman")$overallReject)
dq <- getDesignGroupSequential(kMax = 1, alpha = 0.05, sided = 2)
for (type in c("Schoenfeld", "Freedman")) {
  show(paste("power", type, "150 events, HR 0.7, 2:1, two-sided 0.05"),
    getPowerSurvival(design = dq, typeOfComputation = type, hazardRatio = 0.7,
      allocationRatioPlanned = 2, maxNumberOfEvents = 150, maxNumberOfSubjects = 400,
      lambda2 = 0.05, accrualTime = c(0, 12))$overallReject)
}

# Expected events over time, textbook design
ep <- getEventProbabilities(time = c(3, 6, 12, 20.5, 30, 60), accrualTime = c(0, 2, 4, 6),
  accrualIntensity = c(2.8, 4.2, 4.9, 5.6), lambda2 = log(2) / 6.8, hazardRatio = 0.6,
  dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12, maxNumberOfSubjects = 104)
show("textbook cumulativeEventProbabilities", ep$cumulativeEventProbabilities)
show("textbook eventProbabilities1 (experimental)", ep$eventProbabilities1)

# Expected events, piecewise survival, per-arm dropout, 2:1
ep <- getEventProbabilities(time = c(2, 4, 7, 10, 15, 24, 48), accrualTime = c(0, 3, 5, 8),
  accrualIntensity = c(5, 2, 10, 12), piecewiseSurvivalTime = c(0, 6, 12),
  lambda2 = c(0.1, 0.07, 0.04), hazardRatio = 0.75, allocationRatioPlanned = 2,
  dropoutRate1 = 0.1, dropoutRate2 = 0.05, dropoutTime = 12, maxNumberOfSubjects = 150)
show("piecewise cumulativeEventProbabilities", ep$cumulativeEventProbabilities)
show("piecewise eventProbabilities1 (experimental)", ep$eventProbabilities1)
pw <- getPowerSurvival(design = getDesignGroupSequential(kMax = 1, alpha = 0.025, sided = 1),
  directionUpper = FALSE, maxNumberOfEvents = 80, accrualTime = c(0, 3, 5, 8),
  accrualIntensity = c(5, 2, 10, 12), piecewiseSurvivalTime = c(0, 6, 12),
  lambda2 = c(0.1, 0.07, 0.04), hazardRatio = 0.75, allocationRatioPlanned = 2,
  dropoutRate1 = 0.1, dropoutRate2 = 0.05, dropoutTime = 12, maxNumberOfSubjects = 150)
show("piecewise analysis time for 80 events", pw$analysisTime[1, 1])
show("piecewise power Schoenfeld, 80 events", pw$overallReject)

# Uniform accrual over 12 months, study end 36: the Lachin-Foulkes event probability
ep <- getEventProbabilities(time = 36, accrualTime = c(0, 12), accrualIntensity = 200 / 12,
  lambda2 = 0.05, hazardRatio = 0.7, dropoutRate1 = 0.1, dropoutRate2 = 0.1,
  dropoutTime = 12, maxNumberOfSubjects = 200)
show("uniform eventProbabilities1 (experimental)", ep$eventProbabilities1)
show("uniform eventProbabilities2 (control)", ep$eventProbabilities2)
ss <- getSampleSizeSurvival(
  design = getDesignGroupSequential(kMax = 1, alpha = 0.025, sided = 1, beta = 0.1),
  hazardRatio = 0.7, lambda2 = 0.05, accrualTime = c(0, 12), followUpTime = 24,
  dropoutRate1 = 0.1, dropoutRate2 = 0.1, dropoutTime = 12)
show("sample size (Schoenfeld events / event probability)", ss$maxNumberOfSubjects)
