"""What the error of a clone's effect holds, said in one sentence on every page that compares clones.

A clone is one draw of its generator (one generation seed). The pages measure the variance of a draw from several
draws of one clone, each trained with the family's seeds and scored on the metric compared (`stats.Family.add_draws`):
Table 1 and Fig. 4 on the training classes, Table 2, Fig. 1 and Fig. 4 on the draws' own transfer probes, domain shift
on each shifted test.
"""

from __future__ import annotations


def draws_text(n: int, measured: str) -> str:
    """What the error of a clone's effect holds, in one sentence a page shows beside its verdicts: with n >= 2 draws,
    `measured` says which draws and how they were scored; with fewer, that the error is the seed error alone."""
    if n >= 2:
        return f"the interval includes the variation between clone draws: {n} draws of {measured}"
    return ("no draw of a clone was measured (draws 1): the error is the seed error alone and covers less than 95% "
            "(each clone is one draw of its generator)")
