"""fakeit: synthetic ImageNet clones from class names (Sariyildiz et al., CVPR 2023), reproduced.

The data flow, one module (or a few) per arrow:

    class set (wnids, names)      classes, wordnet
      --prompts-->                prompts, backgrounds           prompts.jsonl
      --generate-->               generate, generate_plan, generate_pipeline, generate_writer, minigen
                                  synthetic set: class folders + manifest.jsonl (a smaller clone: a view of a larger)
      --train (per seed)-->       train, train_recipe, loaders, augment, models       run folder: checkpoint.pt
      --evaluate-->               evaluate, arrayset, minidata, shifts                results.json (top-1/top-5)
      --transfer-->               transfer, transfer_data, probe, repmetrics          results.json (probe top-1)
      --chapters-->               experiments (cached stages, models per seed), parallel (jobs side by side),
                                  findings + stats (verdicts from seeds), chapters/* (one per notebook), paper
      --notebook-->               nb (parameters, provenance, glue), notebooks/*.ipynb (papermill)
      --book-->                   runner (execute, findings.json, cost page, plan), Jupyter Book

Every stage writes its own folder under the output root (store), named by its settings, the content of its
inputs and the version of its code, and reuses it when finished.
"""

import os

# Wait passively at OpenMP barriers: with torch's default (spinning), a second thread on a busy 2-core machine
# made the small models of the mini scale run 50 times slower (generation 0.5 instead of 26 images/s, measured).
# Read by OpenMP when torch loads, so it must be set before the first `import torch` of the process.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
