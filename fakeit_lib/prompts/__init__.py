"""Stage 1, class set -> prompts: the paper's prompt variants from WordNet (`variants`), the Places365 scenes of
the background prompts (`scenes`) and the scenes matched to a class by a text encoder (`backgrounds`).

May import `core`, `paper` and `datasets`.
"""
