"""Compare two `cdk synth` outputs: stacks, resource logical IDs and types, and properties.

    python tools/compare_synth.py BEFORE_DIR AFTER_DIR [--properties]

A refactoring that should leave the deployed infrastructure alone must print no difference in
logical IDs and types (a changed logical ID replaces the resource). With --properties, every
resource whose properties changed is listed too (asset hashes are ignored). Exit 1 on any
difference, so a script can gate on it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def _templates(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(directory.glob("*.template.json"))
    }


def _normalised(value: Any) -> str:
    return _ASSET_HASH.sub("<hash>", json.dumps(value, sort_keys=True))


def compare(before: Path, after: Path, *, properties: bool) -> list[str]:
    """One line per difference between the two synth outputs."""
    old, new = _templates(before), _templates(after)
    lines = [f"stack removed: {name}" for name in sorted(old.keys() - new.keys())]
    lines += [f"stack added: {name}" for name in sorted(new.keys() - old.keys())]
    for name in sorted(old.keys() & new.keys()):
        old_resources = old[name].get("Resources", {})
        new_resources = new[name].get("Resources", {})
        for logical_id in sorted(old_resources.keys() - new_resources.keys()):
            lines.append(f"{name}: removed {logical_id} ({old_resources[logical_id]['Type']})")
        for logical_id in sorted(new_resources.keys() - old_resources.keys()):
            lines.append(f"{name}: added {logical_id} ({new_resources[logical_id]['Type']})")
        for logical_id in sorted(old_resources.keys() & new_resources.keys()):
            was, now = old_resources[logical_id], new_resources[logical_id]
            if was["Type"] != now["Type"]:
                lines.append(f"{name}: {logical_id} type {was['Type']} -> {now['Type']}")
            elif properties and _normalised(was.get("Properties")) != _normalised(
                now.get("Properties")
            ):
                lines.append(f"{name}: {logical_id} ({now['Type']}) properties changed")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--properties", action="store_true", help="also list changed properties")
    args = parser.parse_args()
    lines = compare(args.before, args.after, properties=args.properties)
    print("\n".join(lines) if lines else "no differences")
    sys.exit(1 if lines else 0)


if __name__ == "__main__":
    main()
