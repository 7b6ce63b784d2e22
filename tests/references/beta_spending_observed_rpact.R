# Reference for tests/test_look_rules.py: beta-spending futility bounds recomputed at the
# observed information (issue 31 item 4). At an interim look the monitor recomputes the design
# at the looks' observed information rates d_k / D (the final at 1, its planned events), as
# rpact's getDesignGroupSequential does when given those rates. Run from the repository root:
#   Rscript tests/references/beta_spending_observed_rpact.R > tests/references/beta_spending_observed_rpact.json
# rpact 3.3.4 on R 4.2.2 (Debian r-cran-rpact). Each case: alpha spending (typeOfDesign),
# beta spending (typeBetaSpending), one-sided alpha, beta = 1 - target power, binding or not,
# the observed information rates; rpact's criticalValues and futilityBounds (z scale).
suppressPackageStartupMessages({library(rpact); library(jsonlite)})

cases <- list(
  list(name = "obf_bshsd2_36of70", typeOfDesign = "asOF", typeBetaSpending = "bsHSD",
       gammaB = -2, alpha = 0.10, beta = 0.20, binding = FALSE,
       events = c(36, 70)),
  list(name = "obf_bshsd2_40of70_binding", typeOfDesign = "asOF", typeBetaSpending = "bsHSD",
       gammaB = -2, alpha = 0.10, beta = 0.20, binding = TRUE,
       events = c(40, 70)),
  list(name = "pocock_bsp_3looks", typeOfDesign = "asP", typeBetaSpending = "bsP",
       gammaB = NA, alpha = 0.025, beta = 0.10, binding = FALSE,
       events = c(53, 118, 180)),
  list(name = "obf_bsof_3looks_binding", typeOfDesign = "asOF", typeBetaSpending = "bsOF",
       gammaB = NA, alpha = 0.05, beta = 0.20, binding = TRUE,
       events = c(29, 61, 100))
)

out <- lapply(cases, function(case) {
  rates <- case$events / case$events[length(case$events)]
  args <- list(kMax = length(rates), alpha = case$alpha, beta = case$beta, sided = 1,
               informationRates = rates, typeOfDesign = case$typeOfDesign,
               typeBetaSpending = case$typeBetaSpending, bindingFutility = case$binding)
  if (!is.na(case$gammaB)) args$gammaB <- case$gammaB
  design <- do.call(getDesignGroupSequential, args)
  call <- paste0("getDesignGroupSequential(", paste(names(args), sapply(args, function(v)
    paste(deparse(v), collapse = "")), sep = " = ", collapse = ", "), ")")
  list(name = case$name, call = call, typeOfDesign = case$typeOfDesign,
       typeBetaSpending = case$typeBetaSpending, gammaB = case$gammaB, alpha = case$alpha,
       beta = case$beta, binding = case$binding, events = case$events,
       informationRates = rates, criticalValues = design$criticalValues,
       futilityBounds = design$futilityBounds)
})
cat(toJSON(list(rpact = as.character(packageVersion("rpact")), cases = out),
           auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"))
