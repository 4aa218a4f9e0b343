"""Generates the golden fixtures in tests/golden/ with the reference implementation (diffusers).

    $(tools/golden/setup_venv.sh) tools/golden/make_fixtures.py [NAME...]

Every fixture is a tiny random-weight configuration saved in the diffusers layout, plus the
inputs and reference outputs as safetensors; versions and seeds are recorded in
tests/golden/VERSIONS.json. Computed on the CPU, deterministic for the pinned versions. Each
fixture module `fixtures_<name>.py` beside this file has `generate(out_dir)`; with no NAME all of
FIXTURES are made.
"""

import importlib
import json
import os
import sys

import diffusers
import torch
import transformers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden")

# Every fixture, each made by generate(out_dir) of the module fixtures_<name> next to this file.
FIXTURES = ("scheduler", "text", "transformer", "vae", "pipeline")  # pipeline uses the others.


def main(names):
    out_dir = os.path.join(ROOT, "wan_tiny")
    os.makedirs(out_dir, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    for name in names or FIXTURES:
        torch.manual_seed(0)
        if name not in FIXTURES:
            sys.exit(f"unknown fixture {name!r}; known: {', '.join(FIXTURES)}")
        importlib.import_module("fixtures_" + name).generate(out_dir)
    versions = {"torch": torch.__version__, "diffusers": diffusers.__version__,
                "transformers": transformers.__version__, "python": sys.version.split()[0],
                "generator": "tools/golden/make_fixtures.py",
                "seeds": "fixed in each tools/golden/fixtures_<name>.py"}
    with open(os.path.join(ROOT, "VERSIONS.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
        f.write("\n")
    print("fixtures written to", os.path.normpath(ROOT), versions)


if __name__ == "__main__":
    main(sys.argv[1:])
