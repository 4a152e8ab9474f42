"""Stage 3, dataset -> classifier trained from scratch: the paper's recipe (`recipe`), architectures (`models`),
multi-crop augmentation (`augment`), data loaders (`loaders`) and the training run (`train`).

May import `core`, `paper`, `datasets`, `prompts` and `generation`.
"""
