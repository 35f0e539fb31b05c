"""IRT linking through common items (analytics.linking) on simulated Rasch exams: how well each method recovers a
known shift between two groups, how often the drift screen drops a common item that did not move, and how often it
finds one that moved by 1 logit.

Two exams of 24 items, the first ``--common`` of them the same bank items; the second group's abilities are
N(0.4, 1) on the first group's N(0, 1) scale. The error of B is against the simulated groups' own mean difference.

Run: ``python benchmarks/linking_accuracy.py [--exams 30] [--students 250] [--common 10]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.linking import METHODS, link_rasch  # noqa: E402


def _exam_pair(rng: np.random.Generator, n: int, common: int, drift: float):
    b_common = np.linspace(-1.5, 1.5, common)
    b = [np.concatenate([b_common, rng.normal(0, 1, 24 - common)]) for _ in range(2)]
    b[1][0] += drift
    keys = [[f"bank-{j}" for j in range(common)] + [f"{e}-{j}" for j in range(24 - common)] for e in range(2)]
    theta = [rng.normal(0.0, 1.0, n), rng.normal(0.4, 1.0, n)]
    responses = [(rng.random((n, 24)) < 1 / (1 + np.exp(-(t[:, None] - bb[None, :])))).astype(float)
                 for t, bb in zip(theta, b)]
    return keys, responses, float(theta[1].mean() - theta[0].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=30)
    parser.add_argument("--students", type=int, default=250)
    parser.add_argument("--common", type=int, default=10)
    args = parser.parse_args()
    errors: dict[str, list[float]] = {m: [] for m in METHODS}
    false_drops = found = 0
    for k in range(args.exams):
        keys, responses, shift = _exam_pair(np.random.default_rng([1, k]), args.students, args.common, 0.0)
        link = link_rasch(["a", "b"], keys, responses).links[1]
        false_drops += len(link.dropped)
        for method, constants in link.constants.items():
            errors[method].append(constants.intercept - shift)
        keys, responses, _ = _exam_pair(np.random.default_rng([2, k]), args.students, args.common, 1.0)
        found += "bank-0" in [d.item_id for d in link_rasch(["a", "b"], keys, responses).links[1].dropped]
    print(f"{args.exams} exam pairs, {args.students} students each, {args.common} common items of 24")
    for method, values in errors.items():
        values_array = np.array(values)
        print(f"  {method:14s} B - true shift: mean {values_array.mean():+.3f}, SD {values_array.std(ddof=1):.3f}, "
              f"max |error| {np.abs(values_array).max():.3f}")
    print(f"  drift screen: {false_drops} of {args.exams * args.common} unmoved common items dropped; a 1-logit "
          f"drift found in {found} of {args.exams}")


if __name__ == "__main__":
    main()
