"""Analyses beyond the utility gap: memorisation by nearest neighbours, occlusion attribution, and the fidelity
and privacy panels (`fidelity`: FD, KID, precision, recall, density, coverage; `privacy`: a membership-inference
attack). `neighbours`, `fidelity` and `privacy` are statistics on feature arrays that import nothing above the
models, so `experiments.run_point` computes them for every result row."""
