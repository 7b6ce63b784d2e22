# The sponsor's statistician's check of the project's ADaM output, in R.
#
# Reads each folder's ADTTE (SAS transport v5, as `sim.adam.write_adam` writes it: two
# replicates at their final analysis, rep00?_final, and one at its interim look, rep000_look1;
# tests/test_adam_roundtrip.py says which runs) with
# haven::read_xpt and runs, for PFS and OS, the log-rank test and the Cox model as a
# statistical analysis plan program would:
#   survdiff(Surv(AVAL, 1 - CNSR) ~ TRT01P [+ strata(STRATA1R)])
#   coxph(Surv(AVAL, 1 - CNSR) ~ TRT01P [+ strata(STRATA1R)], ties = "efron" | "breslow")
# and writes the figures, with the calls and the versions of R, haven and survival, to a
# JSON file that tests/test_adam_roundtrip.py and sim/qualify compare with sim.stats.analysis to 1e-9.
#
# Run from the repository root (R from Debian: r-base-core r-cran-haven r-cran-survival):
#   Rscript sim/qualify/references/adam_roundtrip.R sim/qualify/references/adam \
#     sim/qualify/references/adam_roundtrip_r.json
suppressPackageStartupMessages({
  library(haven)
  library(survival)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[1] else "sim/qualify/references/adam"
out <- if (length(args) >= 2) args[2] else "sim/qualify/references/adam_roundtrip_r.json"

calls <- c(
  logrank = "survdiff(Surv(AVAL, 1 - CNSR) ~ TRT01P, data = d)",
  logrank_stratified = "survdiff(Surv(AVAL, 1 - CNSR) ~ TRT01P + strata(STRATA1R), data = d)",
  cox = "coxph(Surv(AVAL, 1 - CNSR) ~ TRT01P, data = d, ties = ties)",
  cox_stratified = "coxph(Surv(AVAL, 1 - CNSR) ~ TRT01P + strata(STRATA1R), data = d, ties = ties)",
  data = "d <- subset(haven::read_xpt(file.path(folder, 'adtte.xpt')), PARAMCD == param)"
)

# every digit of a double (jsonlite's own output stops at 15 significant digits)
num <- function(values) {
  lapply(values, function(x) structure(sprintf("%.17g", unname(x)), class = "json"))
}

logrank <- function(fit) {
  # obs and exp are groups x strata when stratified (summed over the strata); O - E and its
  # variance of the second group (experimental: TRT01P's levels sort control first)
  obs <- rowSums(as.matrix(fit$obs))
  exp <- rowSums(as.matrix(fit$exp))
  num(list(
    chisq = fit$chisq,
    observed = obs[2],
    expected = exp[2],
    o_minus_e = obs[2] - exp[2],
    variance = fit$var[2, 2]
  ))
}

cox <- function(fit) {
  s <- summary(fit, conf.int = 0.95)
  beta <- unname(coef(fit)[1])
  se <- unname(sqrt(vcov(fit)[1, 1]))
  num(list(
    coef = beta,
    se = se,
    hr = exp(beta),
    ci_low = unname(s$conf.int[1, "lower .95"]),
    ci_high = unname(s$conf.int[1, "upper .95"]),
    z = beta / se,
    p_two_sided = unname(s$coefficients[1, "Pr(>|z|)"])
  ))
}

results <- list()
for (folder in sort(list.dirs(root, recursive = FALSE))) {
  all <- haven::read_xpt(file.path(folder, "adtte.xpt"))
  for (param in c("PFS", "OS")) {
    d <- subset(all, PARAMCD == param)
    row <- list(
      folder = basename(folder),
      param = param,
      n = nrow(d),
      events = sum(1 - d$CNSR),
      logrank = logrank(survdiff(Surv(AVAL, 1 - CNSR) ~ TRT01P, data = d)),
      logrank_stratified = logrank(
        survdiff(Surv(AVAL, 1 - CNSR) ~ TRT01P + strata(STRATA1R), data = d)
      )
    )
    for (ties in c("efron", "breslow")) {
      row[[paste0("cox_", ties)]] <- cox(coxph(Surv(AVAL, 1 - CNSR) ~ TRT01P, data = d, ties = ties))
      row[[paste0("cox_", ties, "_stratified")]] <- cox(
        coxph(Surv(AVAL, 1 - CNSR) ~ TRT01P + strata(STRATA1R), data = d, ties = ties)
      )
    }
    results[[length(results) + 1]] <- row
  }
}

payload <- list(
  produced_by = "Rscript tests/references/adam_roundtrip.R tests/references/adam tests/references/adam_roundtrip_r.json",
  r_version = R.version.string,
  packages = list(
    haven = as.character(packageVersion("haven")),
    survival = as.character(packageVersion("survival")),
    jsonlite = as.character(packageVersion("jsonlite"))
  ),
  calls = as.list(calls),
  results = results
)
writeLines(toJSON(payload, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), out)
