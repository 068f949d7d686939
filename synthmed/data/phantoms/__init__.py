"""Phantom source datasets written in the public formats of CheXpert-v1.0-small and RSNA ICH.

Nothing downstream knows that data is phantom: the same readers load phantoms and real downloads.
"""

from synthmed.data.phantoms.brain import make_rsna
from synthmed.data.phantoms.chest import make_chexpert

# Part of the phantom cache key: bump a modality's version when its rendering or labels change, so
# that its cached phantoms are rebuilt. brain 2: every patient bleeds; combinations co-occur more.
PHANTOM_VERSIONS = {"chest": 1, "brain": 2}

__all__ = ["PHANTOM_VERSIONS", "make_chexpert", "make_rsna"]
