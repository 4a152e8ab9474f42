"""Stage 3, dataset -> classifier trained from scratch: the paper's recipe (`recipe`), architectures (`models`),
multi-crop augmentation (`augment` per image, `batch_augment` on whole batches), data loaders (`loaders`), a run's
settings, presets and folder (`train`) and the loop that trains it, `fakeit train` (`loop`), and its TensorBoard curves (`curves`).

May import `core`, `paper`, `datasets`, `prompts` and `generation`.
"""
