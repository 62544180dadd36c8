#!/usr/bin/env python3
"""Writes the injection corpora's attack families, one JSONL file each, for the family held-out
measurement in `scripts/bench.sh detect`, and the PII corpus's sentences as benign user input
(odd template lines) for the false-positive check.

Usage: split-corpus.py CORPORA_DIR OUT_DIR   (prints `family file` lines)
"""

import collections
import json
import pathlib
import sys


def main() -> None:
    corpora, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((corpora / "injection").glob("*.jsonl")):
        families = collections.defaultdict(list)
        for line in path.read_text().split("\n"):
            if not line:
                continue
            row = json.loads(line)
            if row["label"] != "injection":
                continue
            family = row["family"]
            # `--exclude-family X` also drops `X/...`; PromptInject's keys are kept apart.
            if not family.startswith("goal_hijacking/"):
                family = family.split("/")[0]
            families[family].append(line)
        for family, lines in sorted(families.items()):
            name = f"{path.stem}__{family.replace('/', '_')}.jsonl"
            (out / name).write_text("\n".join(lines) + "\n")
            print(family, out / name)
    with (out / "pii-sentences-benign.jsonl").open("w") as f:
        for line in (corpora / "pii" / "pii_dev.jsonl").read_text().split("\n"):
            if not line:
                continue
            row = json.loads(line)
            if row["template_line"] % 2 == 1:
                f.write(json.dumps({"text": row["text"], "label": "benign"}) + "\n")


if __name__ == "__main__":
    main()
