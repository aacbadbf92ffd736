"""Building blocks of methods (layers, text encoders, losses) and the dropout mask streams.

Method plugins reach the blocks through `avgzsl_bench.api`, not through this package.
"""
