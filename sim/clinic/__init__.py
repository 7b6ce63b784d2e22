"""The SimPy model of the clinic: treatment cycles, Quad Shot radiotherapy, infusion chairs and
linac slots, patients' covariates and doses. Imports `sim.scenario` and `sim.conduct`."""
