"""SJE (Akata et al., CVPR 2015): the DEVISE model with the max-violation hinge (see devise.py)."""

from methods.devise import register_compatibility

register_compatibility("sje", "SJE", "SJE: linear compatibility, max-violation structured hinge")
