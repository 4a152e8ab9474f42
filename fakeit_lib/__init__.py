"""fakeit: synthetic ImageNet clones from class names (Sariyildiz et al., CVPR 2023), reproduced.

The folders are the pipeline, one arrow each:

    class set (wnids, names)                                            datasets/    classes, WordNet, real images
      --prompts-->      prompts.jsonl                                   prompts/     variants, scenes, backgrounds
      --generation-->   synthetic set: class folders + manifest.jsonl  generation/  config, pipeline, writer; mini/, quality/
      --training-->     run folder: checkpoint.pt (one per seed)        training/    recipe, models, augment, loaders, loop
      --evaluation-->   results.json: top-1/top-5, probe top-1          evaluation/  evaluate, shifts, transfer, probe
      --experiments-->  the paper's stage chains, presets, the plan     experiments/ stages, presets, plan, table1
      --chapters-->     tables, figures, verdicts of one notebook       chapters/    one module per notebook
      --builder-->      the Jupyter Book, findings.json                 builder/     runner, pages, html, lab

Under them `core/` (errors, parameters, output folders, devices, ranks, jobs side by side) and `paper/` (the
paper's numbers, its findings and their rules); beside them the two faces, `fakeit` (cli) and `nb` (what a notebook
imports). Imports run down this list, never back up. Every stage writes its own folder under the output root
(core.store), named by its settings, the content of its inputs and the version of its code, and reuses it when
finished.
"""

import os

# Wait passively at OpenMP barriers: with torch's default (spinning), a second thread on a busy 2-core machine
# made the small models of the mini scale run 50 times slower (generation 0.5 instead of 26 images/s, measured).
# Read by OpenMP when torch loads, so it must be set before the first `import torch` of the process.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
