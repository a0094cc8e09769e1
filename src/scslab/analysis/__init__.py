"""Analysis of runs: metrics, audits, explanations of single cases, comparisons."""
