#!/usr/bin/env bash
# ImageNet-1K-SD at paper scale on the GPUs of one machine (paper Sec. 5): Stable Diffusion v1.4, prompts "c, d_c",
# 50 steps, guidance 2.0, as many images per class as the real ImageNet-1K training set (its imbalance kept).
# Every other setting is the library's default, the one the notebooks use, so the book finds this dataset.
# Images are stored as shards (~1 GB tar files, as the paper presets store them) rather than 1.28 M PNG files
# written and synced one by one; give `--storage folder` after the folder for a file an image (the same dataset).
#
#   REAL_TRAIN=/data/imagenet/train bash examples/generate_torchrun.sh          # into its folder under $FAKEIT_OUTPUT
#   REAL_TRAIN=/data/imagenet/train bash examples/generate_torchrun.sh /data/x  # or into a folder of your choice
#
# Each GPU runs one process (RANK/WORLD_SIZE/LOCAL_RANK from torchrun); rank r makes batches r, r+N, r+2N, ...
# Killed or stopped, the same command continues where it stopped and ends with the same files.
# Any `fakeit generate` option given after the folder overrides the settings below (the last one wins), and
# NPROC, CLASSES, VARIANT, GENERATOR, IMAGES_PER_CLASS, GUIDANCE can be set in the environment.
# The model is fetched from the Hugging Face hub once (cached); `hf auth login` first if the hub asks for it.
set -euo pipefail

OUT=${1:-}  # empty: the dataset's own folder under $FAKEIT_OUTPUT, where the book looks for it
[ $# -gt 0 ] && shift
NPROC=${NPROC:-$(nvidia-smi -L 2>/dev/null | wc -l || true)}
[ "${NPROC:-0}" -ge 1 ] || NPROC=1
CLASSES=${CLASSES:-imagenet1k}                             # or imagenet100 for ImageNet-100-SD
VARIANT=${VARIANT:-c_dc}                                   # paper's ImageNet-1K prompt: "c, d_c"
GENERATOR=${GENERATOR:-CompVis/stable-diffusion-v1-4}     # the paper's generator
GUIDANCE=${GUIDANCE:-2.0}                                  # paper: 2.0 (best) and 7.5 (the default)
# per-class counts of the real training set (one folder per wnid); for the scaling study give several sizes,
# IMAGES_PER_CLASS="x0.1:DIR match:DIR x10:DIR x20:DIR x50:DIR": the 50x images are drawn once, the others are views
IMAGES_PER_CLASS=${IMAGES_PER_CLASS:-match:${REAL_TRAIN:?set REAL_TRAIN to the real ImageNet-1K train folder or IMAGES_PER_CLASS to a number}}

exec torchrun --standalone --nproc_per_node "$NPROC" -m fakeit_lib generate \
  --classes "$CLASSES" --variant "$VARIANT" --generator "$GENERATOR" \
  --images-per-class $IMAGES_PER_CLASS --guidance "$GUIDANCE" --steps 50 --seed 0 --storage shards \
  ${OUT:+--out "$OUT"} "$@"
