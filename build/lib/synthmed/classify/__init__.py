"""Classifiers trained on real or synthetic images and tested on real ones, and their metrics.

`synthmed.classify.metrics` (AUC, bootstrap CIs, DeLong, utility gap) needs only numpy, scipy and
scikit-learn; the torch models and training loop live in their own modules, so importing this
package does not import torch.
"""
