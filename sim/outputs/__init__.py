"""What users look at: plots and the HTML report, built from result folders."""
