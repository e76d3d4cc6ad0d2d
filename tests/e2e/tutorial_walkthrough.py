"""Run the docs/tutorial.md walkthrough for real and paste each command's output into the page.

python -m tests.e2e.tutorial_walkthrough                          # print the outputs
python -m tests.e2e.tutorial_walkthrough --write docs/tutorial.md # refresh the page's output blocks

Needs scripts/docker-setup done and port 8000 free (the Dockerfiles' default URL). The page's output
blocks sit between `<!-- output:NAME -->` and `<!-- /output:NAME -->` lines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.e2e import docker_cli
from tests.e2e.buildcases import BUILDS_DIR
from tests.e2e.imgscan_run import REPO_ROOT, imgscan_argv
from tests.e2e.tutorial_server import TutorialServer, netrc_text

TAGS = ("my-app:insecure", "my-app:secure")


@dataclass(frozen=True)
class Step:
    """One command of the walkthrough; `name` is its output block in the page (None: not shown)."""

    name: str | None
    shown: str
    argv: tuple[str, ...]


def steps() -> list[Step]:
    docker = docker_cli.DOCKER

    def scan(*args: str) -> tuple[str, ...]:
        return tuple(imgscan_argv(*args, "--no-color", "--no-progress"))

    return [
        Step(
            None,
            "docker build --network=host -f Dockerfile.insecure -t my-app:insecure .",
            (docker, "build", "--network=host", "-f", "Dockerfile.insecure", "-t", "my-app:insecure", "."),
        ),
        Step(
            "run-insecure",
            "docker run --rm --network=none my-app:insecure",
            (docker, "run", "--rm", "--network=none", "my-app:insecure"),
        ),
        Step("history-insecure", "docker history my-app:insecure", (docker, "history", "my-app:insecure")),
        Step("scan-insecure", "imgscan my-app:insecure", scan("my-app:insecure")),
        Step(
            "scan-insecure-secret",
            "imgscan my-app:insecure --secret id=netrc,src=netrc",
            scan("my-app:insecure", "--secret", "id=netrc,src=netrc"),
        ),
        Step(
            None,
            "docker build --network=host --secret id=netrc,src=netrc -f Dockerfile.secure -t my-app:secure .",
            (
                *(docker, "build", "--network=host", "--secret", "id=netrc,src=netrc"),
                *("-f", "Dockerfile.secure", "-t", "my-app:secure", "."),
            ),
        ),
        Step(
            "run-secure",
            "docker run --rm --network=none my-app:secure",
            (docker, "run", "--rm", "--network=none", "my-app:secure"),
        ),
        Step(
            "scan-secure",
            "imgscan my-app:secure --secret id=netrc,src=netrc",
            scan("my-app:secure", "--secret", "id=netrc,src=netrc"),
        ),
    ]


def run_walkthrough() -> dict[str, str]:
    """Every step in a fresh directory holding the netrc and both Dockerfiles; output blocks by name."""
    blocks: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="imgscan-tutorial-") as tmp, TutorialServer(8000):
        work = Path(tmp) / "tutorial"
        work.mkdir()
        # A first-time user's run: an empty layer cache of its own, not the caller's.
        cache = Path(tmp) / "cache"
        env = {
            **os.environ,
            "DOCKER_BUILDKIT": "1",
            "PYTHONPATH": str(REPO_ROOT),
            "IMGSCAN_CACHE_DIR": str(cache),
        }
        (work / "netrc").write_text(netrc_text())
        shutil.copy(BUILDS_DIR / "tutorial-insecure" / "Dockerfile", work / "Dockerfile.insecure")
        shutil.copy(BUILDS_DIR / "tutorial-secure" / "Dockerfile", work / "Dockerfile.secure")
        try:
            for step in steps():
                proc = subprocess.run(step.argv, cwd=work, env=env, capture_output=True, text=True)
                if step.name is None:
                    if proc.returncode != 0:
                        sys.exit(f"{step.shown} failed:\n{proc.stderr}")
                    continue
                output = (proc.stdout + proc.stderr).rstrip("\n")
                blocks[step.name] = f"$ {step.shown}\n{output}\n$ echo $?\n{proc.returncode}"
        finally:
            docker_cli.remove_images(*TAGS)
    return blocks


def paste(page: str, blocks: dict[str, str]) -> str:
    """The page with each named output block replaced; a block the page lacks is an error."""
    for name, text in blocks.items():
        pattern = re.compile(rf"(<!-- output:{name} -->\n)```text\n.*?```\n(<!-- /output:{name} -->)", re.S)
        if not pattern.search(page):
            sys.exit(f"no output block {name!r} in the page")
        page = pattern.sub(_block_replacer(text), page)
    return page


def _block_replacer(text: str) -> Callable[[re.Match[str]], str]:
    """A re.sub callback (not a template: the output may hold backslashes) putting text in the block."""

    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)}```text\n{text}\n```\n{match.group(2)}"

    return replace


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", type=Path, metavar="PAGE", help="replace the output blocks in PAGE")
    args = parser.parse_args()
    blocks = run_walkthrough()
    if args.write:
        args.write.write_text(paste(args.write.read_text(), blocks))
    else:
        for name, text in blocks.items():
            print(f"== {name}\n{text}\n")


if __name__ == "__main__":
    main()
