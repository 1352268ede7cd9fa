#!/usr/bin/env python3
"""Runs real alter_ego (`ego run -n N built`) reproducibly and reports what it did.

Used by silico's differential test (packages/silico/src/designs/alter-ego/differential.slow.test.ts).
alter_ego itself is not changed: this wrapper only

  * seeds Python's `random` before the run, so the treatment draw (`random.choice` in
    `Experiment.link`) is repeatable, and
  * wraps `Experiment.link` to log, in order, which treatment each conversation got,

then calls alter_ego's own click entry point exactly as the `ego` command does. Afterwards it
reads alter_ego's pickles and writes the threads (histories, choices, taint) as JSON.

Usage: run_ego.py --built built.json --times N --seed K --workdir DIR
Environment: OPENAI_BASE_URL (the test server) and OPENAI_KEY (any value) must be set.
Writes DIR/ego-run.json: {experiment, version, conversations: [{convo, treatment, threads: [...]}]}
"""

import argparse
import importlib.metadata
import json
import os
import pickle
import random
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--built", required=True)
    ap.add_argument("--times", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()

    # scenarios.built reads BUILT_FILE when it is imported, and alter_ego writes out/ to the cwd.
    os.environ["BUILT_FILE"] = os.path.abspath(args.built)
    os.chdir(args.workdir)

    import alter_ego.experiment
    import ego.cli

    links = []
    original_link = alter_ego.experiment.Experiment.link

    def logging_link(self, convo, treatment=None):
        original_link(self, convo, treatment)
        links.append({"experiment": str(self.id), "convo": str(convo.id), "treatment": convo.treatment.name})

    alter_ego.experiment.Experiment.link = logging_link
    random.seed(args.seed)
    try:
        ego.cli.main(["run", "-n", str(args.times), "built"], standalone_mode=False)
    finally:
        alter_ego.experiment.Experiment.link = original_link

    if not links:
        print("alter_ego ran no conversation", file=sys.stderr)
        return 1
    experiment = links[0]["experiment"]
    conversations = []
    for link in links:
        convo_dir = os.path.join("out", experiment, link["convo"])
        threads = {}
        for name in os.listdir(convo_dir):
            with open(os.path.join(convo_dir, name), "rb") as f:
                t = pickle.load(f)
            threads[str(t.id)] = t
        some = next(iter(threads.values()))
        ordered = [threads[str(t.id)] for t in some.convo.threads]
        conversations.append(
            {
                "convo": link["convo"],
                "treatment": link["treatment"],
                "threads": [
                    {
                        "thread": str(t.id),
                        "i": t.i,
                        "type": t.__class__.__name__,
                        "tainted": t.tainted,
                        "history": t.history,
                        "choices": [json.dumps(c) for c in t.choices],
                    }
                    for t in ordered
                ],
            }
        )
    report = {
        "experiment": experiment,
        "version": importlib.metadata.version("alter_ego_llm"),
        "conversations": conversations,
    }
    with open("ego-run.json", "w") as f:
        json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
