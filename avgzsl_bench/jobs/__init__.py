"""Benchmark jobs: a request becomes job groups, a group is claimed, trained, recorded and stored."""
