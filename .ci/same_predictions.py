"""CI: `predict --format json` outputs of several installs agree (same genres, probabilities within 1e-4).

Usage: python .ci/same_predictions.py serve.json full.json [more.json ...]; the first is compared with each other.
Plain Python, so it runs in any of the venvs.
"""

from __future__ import annotations

import json
import sys

TOLERANCE = 1e-4


def records(path: str) -> list[dict]:
    with open(path) as handle:
        data = json.load(handle)
    return data if isinstance(data, list) else [data]


def main(paths: list[str]) -> int:
    first, problems = records(paths[0]), []
    for other_path in paths[1:]:
        other = records(other_path)
        if len(other) != len(first):
            problems.append(f"{other_path}: {len(other)} records, {paths[0]}: {len(first)}")
            continue
        for a, b in zip(first, other, strict=True):
            if a["error"] or b["error"]:
                problems.append(f"{a['file']}: error {a['error']!r} / {b['error']!r}")
                continue
            if a["genre"] != b["genre"]:
                problems.append(f"{a['file']}: genre {a['genre']} in {paths[0]}, {b['genre']} in {other_path}")
            gap = max(abs(a["probabilities"][g] - b["probabilities"][g]) for g in a["probabilities"])
            if a.get("other_probability") is not None:
                gap = max(gap, abs(a["other_probability"] - b["other_probability"]))
            outside_a, outside_b = a.get("outside"), b.get("outside")
            if (outside_a or {}).get("genre") != (outside_b or {}).get("genre"):
                problems.append(f"{a['file']}: outside family {outside_a} in {paths[0]}, {outside_b} in {other_path}")
            elif outside_a and outside_b:
                gap = max(gap, abs(outside_a["probability"] - outside_b["probability"]))
            print(f"{a['file']}: {a['genre']} in both {paths[0]} and {other_path}, largest difference {gap:.1e}")
            if gap > TOLERANCE:
                problems.append(f"{a['file']}: probabilities differ by {gap:.1e} (> {TOLERANCE})")
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
