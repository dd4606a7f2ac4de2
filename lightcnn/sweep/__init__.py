"""Sweeps: many variants, a grid or an Optuna search of one base config, compared in one report."""
