"""SJE (Akata et al., CVPR 2015): the DEVISE model with the max-violation hinge (see devise.py)."""

from methods.devise import LinearCompatibility, register_compatibility


class SJE(LinearCompatibility):
    ranking = "sje"


register_compatibility(SJE, "sje", "SJE", "SJE: linear compatibility, max-violation structured hinge")
