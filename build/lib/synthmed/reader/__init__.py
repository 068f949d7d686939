"""The reader study: can people tell real images from synthetic ones?

`responses` holds the CSV schema of the reads and its validating loader; `study` the statistics
(accuracy, exact tests and intervals, TOST, Fleiss' kappa, a cluster-robust pooled estimate) and
the power planner. The paper's own study design and numbers are unknown (paper-spec §7).
"""
