"""One module per notebook of the book: its parameters (a dataclass the notebook's parameters cell mirrors) and the
stages, tables, figures and verdicts it shows, so a notebook only calls and narrates.

May import everything below it (`core` to `experiments`); never the book builder.
"""
