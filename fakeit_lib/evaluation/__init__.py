"""Stage 4, checkpoint -> numbers on real images: top-1/top-5 on test sets (`evaluate`, with the mini scale's
constructed `shifts`), linear probes on transfer datasets (`transfer`, `transfer_data`, `probe`, the offline
`minidata`), representation metrics, and measures of a generator's images (`judge`, `imagestats`,
`generator_quality`).

May import the stages below it: `core`, `paper`, `datasets`, `prompts`, `generation` and `training`.
"""
