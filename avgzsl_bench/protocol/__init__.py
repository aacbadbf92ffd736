"""The two-stage GZSL protocol, its metrics and the scoring of trained models; knows no method."""
