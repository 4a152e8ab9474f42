"""Classes and real images: class sets from WordNet 3.0 (ImageNet-1K/100/R/A, Fashion-MNIST, a user's file), the
offline WordNet, image files and the samples of a dataset on disk (files or tar shards), the torch Datasets over them,
the real Fashion-MNIST of the mini scale, the offline transfer and shift sets of the mini scale (`minidata`) and the
readers of the paper's transfer data sets with the authors' splits (`transfer_data`).

May import `core` and `paper`.
"""
