# rpact reference timing for the "textbook" design: getSimulationSurvival, 10,000 replicates.
# 1:1, 104 patients, piecewise accrual 2.8/4.2/4.9 per month over months 0-2/2-4/4-6 then
# 5.6 per month; control exponential, median 6.8 months; HR 0.6; dropout 5% by month 12 in
# each arm; single analysis at 70 events; one-sided alpha 0.10 log-rank test.
# Run: Rscript benchmarks/rpact/textbook.R
suppressPackageStartupMessages(library(rpact))

design <- getDesignGroupSequential(kMax = 1, alpha = 0.1, sided = 1)

run <- function() {
  getSimulationSurvival(
    design = design,
    directionUpper = FALSE, # HR < 1 favours the experimental arm
    median2 = 6.8, # control arm (rpact: group 2 = control)
    hazardRatio = 0.6,
    allocation1 = 1, allocation2 = 1,
    accrualTime = c(0, 2, 4, 6),
    accrualIntensity = c(2.8, 4.2, 4.9, 5.6),
    accrualIntensityType = "absolute",
    maxNumberOfSubjects = 104,
    dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12,
    plannedEvents = 70,
    maxNumberOfIterations = 10000,
    seed = 1
  )
}

iterations <- 10000
elapsed <- system.time(sim <- run())[["elapsed"]]

cat(sprintf("rpact %s, R %s\n", packageVersion("rpact"), getRversion()))
cat(sprintf("elapsed: %.2f s for %d replicates\n", elapsed, iterations))
cat(sprintf("replicates/second: %.0f\n", iterations / elapsed))
cat(sprintf("simulated power: %.4f\n", sim$overallReject))
cat(sprintf("mean analysis time (months): %.4f\n", sim$analysisTime[1, 1]))
cat(sprintf("mean study duration (months): %.4f\n", sim$studyDuration))
cat(sprintf("expected number of subjects: %.2f\n", sim$expectedNumberOfSubjects))
