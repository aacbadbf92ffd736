"""ALE (Akata et al., CVPR 2013): the DEVISE model with the WARP-weighted ranking loss (see devise.py)."""

from methods.devise import register_compatibility

register_compatibility("ale", "ALE", "ALE: linear compatibility, rank-weighted (WARP) hinge")
