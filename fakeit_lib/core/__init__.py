"""The ground floor: the one error type, typed parameters, output folders (atomic writes, stage identities,
compute-or-load), devices, ranks under torchrun, and jobs side by side with pinned threads.

Imports nothing of the package: every other subpackage may import it.
"""
