"""Statistics as pure functions: tests, Cox, Kaplan-Meier (`analysis`) and closed-form design
(`design`). Imports only `sim.scenario`."""
