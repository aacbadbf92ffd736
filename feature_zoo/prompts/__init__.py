"""Prompt-ensemble data files (a package so the ``*.txt`` files ship as package data)."""
