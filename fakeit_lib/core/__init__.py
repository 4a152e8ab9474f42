"""The ground floor: the error types (bad input, a stopping signal), typed parameters, output folders (atomic writes,
stage identities, compute-or-load), the package's modules a stage's code imports, devices, ranks under torchrun (the
only door to torch.distributed), and jobs side by side with pinned threads that end with their parent.

Imports nothing of the package: every other subpackage may import it.
"""
