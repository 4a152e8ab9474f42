"""The paper's experiments as chains of cached stages (`stages`: clones, models per seed, their evaluations and
probes), the presets of the three scales (`presets`) and the plan of a preset before any work (`plan`, which
computes nothing).

May import every stage below it (`core` to `evaluation`).
"""
