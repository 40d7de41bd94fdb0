"""`make mutate`: mutation testing (mutmut), set by set, each set's modules against its own tests.

The sets are in pyproject.toml: "rules" is [tool.mutmut] itself, the others [tool.kiosk.mutate.*].
Each set runs in a copy of the repository's tracked files (mutants-work/<set>/) whose [tool.mutmut]
names that set's modules and tests alone. One PostgreSQL (tests/pg.py) serves every set's tests
through KIOSK_TEST_POSTGRES_PORT instead of a cluster per mutant.

    scripts/mutate                 every set
    scripts/mutate ledger runner   those sets
    scripts/mutate ledger -- "kiosk.ledger.book.*"   a set, with `mutmut run`'s mutant names

Prints the mutants not killed, then a line per set and the last line "killed K of N" over all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "mutants-work"
MUTMUT = ROOT / ".venv" / "bin" / "mutmut"
ORDER = ("rules", "states", "runner", "ledger")


def sets() -> dict[str, tuple[list[str], list[str]]]:
    """Each set's modules and tests, from pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = {"rules": (config["tool"]["mutmut"]["only_mutate"],
                       config["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])}
    for name, part in config["tool"]["kiosk"]["mutate"].items():
        found[name] = (part["only_mutate"], part["tests"])
    return found


def toml_list(key: str, values: list[str]) -> str:
    return f"{key} = [\n" + "".join(f'    "{v}",\n' for v in values) + "]"


def copy_of(name: str, modules: list[str], tests: list[str]) -> Path:
    """A fresh copy of the tracked files, its [tool.mutmut] narrowed to the set."""
    where = WORK / name
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for path in filter(None, files.decode().split("\0")):
        if (ROOT / path).is_file():
            (where / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, where / path)
    (where / ".venv").symlink_to(ROOT / ".venv")
    text = (where / "pyproject.toml").read_text()
    for key, values in (("only_mutate", modules), ("pytest_add_cli_args_test_selection", tests)):
        text = re.sub(rf"^{key} = \[\n(?:    .*\n)*?\]", lambda _m, k=key, v=values: toml_list(k, v), text,
                      count=1, flags=re.M)
    (where / "pyproject.toml").write_text(text)
    return where


def postgres() -> tuple[subprocess.Popen[str] | None, dict[str, str]]:
    """One PostgreSQL for the whole run, when it is installed."""
    sys.path.insert(0, str(ROOT))
    from tests.pg import binaries

    if binaries() is None:
        return None, {}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tests.pg", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    assert server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        raise SystemExit("PostgreSQL did not start")
    return server, {"KIOSK_TEST_POSTGRES_PORT": str(port)}


def run(name: str, where: Path, env: dict[str, str], names: list[str]) -> dict[str, int]:
    started = time.monotonic()
    log = where / "mutmut.log"  # mutmut's own output (its progress line, a failing clean run)
    with log.open("w") as out:
        subprocess.run([str(MUTMUT), "run", *names], cwd=where, env={**os.environ, **env}, stdout=out,
                       stderr=subprocess.STDOUT, check=False)
    subprocess.run([str(MUTMUT), "export-cicd-stats"], cwd=where, stdout=subprocess.DEVNULL, check=True)
    stats: dict[str, int] = json.loads((where / "mutants" / "mutmut-cicd-stats.json").read_text())
    if stats["killed"] + stats["survived"] + stats["timeout"] == 0:
        tail = log.read_text(errors="replace").replace("\r", "\n").splitlines()[-30:]
        raise SystemExit(f"set {name}: no mutant was run; mutmut said:\n" + "\n".join(tail))
    stats["seconds"] = int(time.monotonic() - started)
    results = subprocess.run([str(MUTMUT), "results"], cwd=where, capture_output=True, text=True).stdout
    for line in results.splitlines():
        print(f"  {line.strip()}")
    return stats


def main(argv: list[str]) -> None:
    names = argv[argv.index("--") + 1:] if "--" in argv else []
    wanted = (argv[:argv.index("--")] if "--" in argv else argv) or list(ORDER)
    known = sets()
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"no such set: {', '.join(unknown)} (the sets: {', '.join(known)})")
    server, env = postgres()
    figures: dict[str, dict[str, int]] = {}
    try:
        for name in wanted:
            print(f"Set {name}: mutants not killed (docs/testing.md explains the equivalent ones):")
            figures[name] = run(name, copy_of(name, *known[name]), env, names)
    finally:
        if server is not None:
            server.terminate()  # it stops its cluster and removes its folder
            try:
                server.wait(300)
            except subprocess.TimeoutExpired:
                server.kill()
    killed = total = 0
    for name, s in figures.items():
        done = s["killed"] + s["timeout"]
        killed, total = killed + done, total + s["total"]
        share = f"{done / max(s['total'], 1):.0%}"
        print(f"{name}: killed {done} of {s['total']} ({share}), survived {s['survived']}, "
              f"no test {s['no_tests']}, timeout {s['timeout']}, in {s['seconds']} s")
    print(f"killed {killed} of {total} ({killed / max(total, 1):.0%})")


if __name__ == "__main__":
    main(sys.argv[1:])
