"""scripts/generate-api: write (or with --check, compare) every group's generated data."""

from __future__ import annotations

import argparse
import sys

from .generate import Messages, generate, render
from .groups import GROUPS
from .inputs import ROOT


def main() -> int:
    parser = argparse.ArgumentParser(prog="generate-api", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; fail if a committed file differs from the output")
    args = parser.parse_args()
    messages = Messages()
    stale = []
    for gv in GROUPS:
        text = render(generate(gv, messages))
        path = ROOT / gv.output
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(gv.output)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {gv.output} ({len(text)} bytes)", file=sys.stderr)
    if stale:
        print("generated API data is stale (run scripts/generate-api):\n  " + "\n  ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
