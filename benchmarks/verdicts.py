"""How often a verdict is wrong: every decision rule the registry uses (greater, large, at_most, trend, both and any
over 1 to 8 parts) under every error method the chapters use (blocked, no seed effect, paired, with the measured draw
variance, unequal seed variances 2:1 and 3:1, draws combined with unequal variances or twice the draw variance),
simulated on families with known true effects (`fakeit_lib.paper.calibration`).

One row each: the 95% intervals' coverage, the share of false "holds" at the claim's boundary (a true effect of 0
for greater), the share of false "does not hold" at the other boundary (a true effect at the smallest effect of
interest), each with its Monte-Carlo standard error; the power (share of "holds" at a true effect 2 smallest effects
of interest beyond the boundary) and the share of intervals where a fallback rule fired. Goal of every row:
coverage >= 0.94, each false rate <= 2.5% + 3 Monte-Carlo errors. The row "draw present, not in the error" is shown,
not counted: it is why the draws are measured. Last line `ratio X`: the worst counted row's number over its goal (at
most 1: every row meets it; the full run's 2,000 families per row are what the book's claim rests on).

    python benchmarks/verdicts.py [--families 2000] [--seed 0] [--method "unequal variance 3:1" ...]
"""

from __future__ import annotations

import argparse
import time

from fakeit_lib.paper.calibration import calibrate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", type=int, default=2000, help="simulated families per row and boundary")
    ap.add_argument("--seed", type=int, default=0, help="seed of the simulation")
    ap.add_argument("--method", action="append", help="an error method to run (repeat for several; default: all)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = calibrate(args.families, args.seed, methods=args.method)
    print(f"{'rule':<18} {'error method':<34} {'coverage':>15} {'false holds':>15} {'false fails':>15} "
          f"{'power':>15} {'fallback':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r.rule:<18} {r.method:<34} {r.coverage:>8.3f} ±{r.coverage_se:.3f} "
              f"{100 * r.false_holds:>8.1f}% ±{100 * r.false_holds_se:.1f} "
              f"{100 * r.false_fails:>8.1f}% ±{100 * r.false_fails_se:.1f} "
              f"{100 * r.power:>8.1f}% ±{100 * r.power_se:.1f} {100 * r.fallback:>7.0f}% "
              f"{r.ratio():>6.2f}{'' if r.counted else ' (shown, not counted)'}")
    worst = max((r for r in rows if r.counted), key=lambda r: r.ratio())
    print(f"{len(rows)} rows, {args.families} families per row and boundary, {time.perf_counter() - t0:.0f} s; "
          f"worst: {worst.rule}, {worst.method}")
    print(f"ratio {worst.ratio():.3f}")


if __name__ == "__main__":
    main()
