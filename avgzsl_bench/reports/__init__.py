"""Reports: results tables, the paper's Tables 1-4, leaderboards and figures, all from run records."""
