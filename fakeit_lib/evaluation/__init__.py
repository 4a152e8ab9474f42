"""Stage 4, checkpoint -> numbers on real images: top-1/top-5 on test sets (`evaluate`, with the mini scale's
constructed `shifts`), linear probes on transfer datasets (`transfer`, its settings `transfer_config`, the encoder
and its cached `features`, `probe`; the data sets' readers are in `datasets`), representation metrics (`repmetrics`)
and the simple learners beside a classifier (`baselines`).

May import the stages below it: `core`, `paper`, `datasets`, `prompts`, `generation` and `training`.
"""
