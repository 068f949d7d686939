"""Analyses beyond the utility gap: memorisation by nearest neighbours, and occlusion attribution."""
