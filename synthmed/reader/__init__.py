"""The reader study: can people tell real images from synthetic ones?

`responses` holds the CSV schema of the reads and its validating loader; `study` the statistics
(accuracy, exact tests and intervals, TOST, Fleiss' kappa, a cluster-robust pooled estimate) and
the power planner; `quiz` the ipywidgets quiz for a live kernel, and `page_quiz` the same quiz as one
HTML output that runs in the published static page (its JavaScript in `page_quiz_js`). The paper's own
study design and numbers are unknown (paper-spec §7).
"""
