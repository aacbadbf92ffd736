"""Reports: results tables, the paper's Tables 1-4, leaderboards and figures, all from run records."""

# Where `bench.py leaderboard` writes (the committed boards are under leaderboards/).
DEFAULT_LEADERBOARD_DIR = "results/leaderboards"
