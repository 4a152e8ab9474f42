"""The paper's experiments as chains of cached stages (`stages`: clones, models per seed, their evaluations and
probes), the presets of the three scales (`presets`) read through one typed dataclass (`params`), the plan of a
preset before any work (`plan`, which computes nothing, its steps and their command lines in `commands`, its text
and the book's page in `report`; the cost model in `costs`, a stage's hours on a cluster in `estimates`, measured
on the user's machine by `calibrate`), `launch`, which runs the plan's stages with torchrun over several GPUs, and
the runs several pages share: Table 1's (`table1`) and the real-vs-clone encoder pair (`comparison`).

May import every stage below it (`core` to `evaluation`).
"""
