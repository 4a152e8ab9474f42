"""fakeit: synthetic ImageNet clones from class names (Sariyildiz et al., CVPR 2023), reproduced."""

__version__ = "0.1.0"
