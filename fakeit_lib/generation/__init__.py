"""Stage 2, prompts + generator -> synthetic dataset: what a clone holds before any image is drawn (`config`),
the diffusers pipeline (`pipeline`), how images land on disk (`writer`) and the driver (`generate`); `mini/` holds
the project's own small text-to-image model, its training and its captions; `quality/` measures a generator's images
(a judge trained on real images, image statistics).

May import `core`, `paper`, `datasets` and `prompts`.
"""
