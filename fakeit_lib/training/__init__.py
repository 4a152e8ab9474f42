"""Stage 3, dataset -> classifier trained from scratch: the paper's recipe (`recipe`), architectures (`models`),
multi-crop augmentation (`augment`), data loaders (`loaders`), the training run (`train`) and its curves (`curves`).

May import `core`, `paper`, `datasets`, `prompts` and `generation`.
"""
