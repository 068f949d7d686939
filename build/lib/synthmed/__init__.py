"""synthmed: the reproducible companion to DuMont Schütte et al. 2021 (arXiv 2012.03769).

The package is the book's engine: data readers and phantoms, generators, classifiers, analyses
and the book pipeline. Notebooks only call it and plot.
"""

__version__ = "0.1.0"
