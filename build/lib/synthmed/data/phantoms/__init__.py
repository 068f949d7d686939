"""Phantom source datasets written in the public formats of CheXpert-v1.0-small and RSNA ICH.

Nothing downstream knows that data is phantom: the same readers load phantoms and real downloads.
"""

from synthmed.data.phantoms.brain import make_rsna
from synthmed.data.phantoms.chest import make_chexpert

# Part of the phantom cache key: bump when rendering changes so cached phantoms are rebuilt.
PHANTOM_VERSION = 1

__all__ = ["PHANTOM_VERSION", "make_chexpert", "make_rsna"]
