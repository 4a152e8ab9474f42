"""Stage 2, prompts + generator -> synthetic dataset: what a clone holds before any image is drawn (`config`),
the diffusers pipeline (`pipeline`), how images land on disk (`writer`) and the driver (`generate`); `mini/` holds
the project's own small text-to-image model, its training and its captions.

May import `core`, `paper`, `datasets` and `prompts`.
"""
