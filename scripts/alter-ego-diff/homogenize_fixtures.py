#!/usr/bin/env python3
"""Refreshes the scenario entries of homogenize-expected.json with alter_ego's own homogenize.

Used for silico's alter_ego tests (packages/silico/src/designs/alter-ego/homogenize.test.ts):
for every scenario file in testdata/, the expected output of `alter_ego.utils.homogenize` on its
system and user prompts. The hand-written `cases` in the file are kept as they are.

Usage: .venv-test/bin/python scripts/alter-ego-diff/homogenize_fixtures.py
"""

import json
import pathlib

from alter_ego.utils import homogenize

TESTDATA = pathlib.Path(__file__).resolve().parents[2] / "packages/silico/src/designs/alter-ego/testdata"
EXPECTED = TESTDATA / "homogenize-expected.json"


def main() -> None:
    old = json.loads(EXPECTED.read_text(encoding="utf-8"))
    scenarios = sorted(TESTDATA.glob("ego_builder_*.json")) + sorted(TESTDATA.glob("*_built.json"))
    lines = ["{"]
    for path in scenarios:
        prompts = json.loads(path.read_text(encoding="utf-8"))["prompts"]
        want = {"system": homogenize(prompts["system"]), "user": homogenize(prompts["user"])}
        body = json.dumps(want, indent=2).replace("\n", "\n  ")
        lines.append(f"  {json.dumps(path.name)}: {body},")
    cases = ",\n".join(f"    {json.dumps(case)}" for case in old["cases"])
    lines.append(f'  "cases": [\n{cases}\n  ]')
    lines.append("}")
    EXPECTED.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {EXPECTED.name}: {', '.join(p.name for p in scenarios)}")


if __name__ == "__main__":
    main()
