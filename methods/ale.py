"""ALE (Akata et al., CVPR 2013): the DEVISE model with the WARP-weighted ranking loss (see devise.py)."""

from methods.devise import LinearCompatibility, register_compatibility


class ALE(LinearCompatibility):
    ranking = "ale"


register_compatibility(ALE, "ale", "ALE", "ALE: linear compatibility, rank-weighted (WARP) hinge")
