#!/usr/bin/env bash
# capture_outputs.sh CHECKOUT OUTROOT: every output of a fixed set of commands, run with the code of
# CHECKOUT (PYTHONPATH), into OUTROOT, for a refactor to be compared byte for byte
# (benchmarks/compare_outputs.py BEFORE AFTER). PYTHON names the interpreter (default: python).
set -u
CO=$(cd "$1" && pwd); mkdir -p "$2"; OUT=$(cd "$2" && pwd)
PY=${PYTHON:-python}
rm -rf "$OUT"; mkdir -p "$OUT"
cd "$CO"
export PYTHONPATH="$CO"
run() { echo "+ $*" >> "$OUT/commands.log"; "$@" > "$OUT/$LOG.stdout" 2> "$OUT/$LOG.stderr"; echo "rc=$?" >> "$OUT/$LOG.stdout"; }
LOG=baseline run $PY -m sim run scenarios/nct07271602.yaml --reps 1000 --seed 7 --out "$OUT/baseline" --quiet
LOG=interim run $PY -m sim run scenarios/nct07271602_interim.yaml --reps 300 --seed 3 --out "$OUT/interim" --quiet
LOG=three run $PY -m sim run scenarios/nct07271602_three_sites.yaml --reps 300 --seed 5 --out "$OUT/three_sites" --quiet
LOG=textbook run $PY -m sim run scenarios/textbook.yaml --reps 2000 --seed 2 --out "$OUT/textbook" --quiet
LOG=sweep run $PY -m sim sweep scenarios/nct07271602.yaml --grid effect.hazard_ratio=0.6,0.8 --grid analysis.alpha=0.05,0.1 --reps 200 --out "$OUT/sweep" --quiet
LOG=design run $PY -m sim design scenarios/nct07271602.yaml --out "$OUT/design"
LOG=design_interim run $PY -m sim design scenarios/nct07271602_interim.yaml --out "$OUT/design_interim"
LOG=export run $PY -m sim export-observed "$OUT/baseline" --replicate 0 --as-of 2027-06-01 --out "$OUT/observed.csv"
LOG=forecast run $PY -m sim forecast scenarios/nct07271602.yaml --observed "$OUT/observed.csv" --as-of 2027-06-01 --reps 300 --seed 4 --out "$OUT/forecast" --quiet
LOG=compare run $PY -m sim compare "$OUT/baseline" "$OUT/three_sites"
LOG=analyze run $PY -m sim analyze "$OUT/baseline/patients.parquet" --replicate 0
LOG=validate run $PY -m sim validate scenarios/nct07271602_interim.yaml
LOG=plot run $PY -m sim plot "$OUT/interim"
LOG=report run $PY -m sim report "$OUT/sweep"
LOG=report2 run $PY -m sim report "$OUT/baseline"
LOG=schema run $PY -m sim schema
sed -i "s#$OUT#OUT#g" "$OUT"/*.stdout "$OUT"/*.stderr 2>/dev/null
