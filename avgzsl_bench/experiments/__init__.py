"""Experiment files: parsing and checking (`schema`), and turning them into jobs (`expand`)."""
