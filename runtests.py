#!/usr/bin/env python3
"""Run the test matrix of django-referral-rewards.

    python runtests.py                      every env this machine can run
    python runtests.py -e py311-dj52-sqlite -- -k ledger -x
    python runtests.py --strict             the whole matrix; anything missing fails
    python runtests.py --list               show the plan, run nothing

Needs only Python (3.11 or newer). The first run creates ``.venv-tools`` with tox (and
tox-uv, which makes tox create envs and install with uv) in it;
later runs reuse it. Then tox (configured in ``tox.ini``) builds one virtualenv per env
under ``.tox/`` and runs it; several envs run side by side (``-p``), each with its own
test database.

By default an env is left out, with the reason printed, when its interpreter
(``python3.12`` for ``py312-...``) is not installed or its database server does not
answer (PostgreSQL at ``POSTGRES_HOST:POSTGRES_PORT``, default 127.0.0.1:5432; MariaDB
or MySQL at ``MYSQL_HOST:MYSQL_PORT``, default 127.0.0.1:3306), or, for ``browser``,
Chromium is not installed (``/usr/bin/chromium``, or ``CHROMIUM_PATH``). With
``--strict``, or when the environment variable ``CI`` is set (``1``, ``true``, ...),
nothing is left out: a missing interpreter, database or browser, or any failing env,
makes the run fail.

Arguments after ``--`` go to pytest (tox's ``{posargs}``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".venv-tools"
TOX_REQUIREMENTS = ["tox>=4.11,<5", "tox-uv>=1.11"]
BIN = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""


def say(message: str = "") -> None:
    print(message, flush=True)


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


# --- tools venv ----------------------------------------------------------------------


def tools_python() -> Path:
    return TOOLS / BIN / f"python{EXE}"


def ensure_tox() -> Path:
    """Create (or reuse) .venv-tools with tox; return the tox executable."""
    stamp = TOOLS / ".installed"
    python = tools_python()
    wanted = f"{' '.join(TOX_REQUIREMENTS)}\n{sys.version_info[:2]}\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        check = subprocess.run([str(python), "-c", "import tox"], capture_output=True, check=False)
        if check.returncode == 0:
            return TOOLS / BIN / f"tox{EXE}"
    say(f"runtests: setting up {TOOLS.name} with {', '.join(TOX_REQUIREMENTS)} ...")
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
    except Exception as exc:  # e.g. Debian's python3 without python3-venv
        sys.exit(
            f"runtests: could not create {TOOLS}: {exc}\n(On Debian: apt install python3-venv)"
        )
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", *TOX_REQUIREMENTS],
        check=True,
    )
    stamp.write_text(wanted)
    return TOOLS / BIN / f"tox{EXE}"


# --- what this machine has --------------------------------------------------------


def add_pyenv_pythons() -> list[str]:
    """Put pyenv's 3.12 and 3.13 bin folders (newest patch release of each) at the front
    of PATH, ahead of pyenv's shims, so that tox finds python3.12 / python3.13."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    added = []
    for minor in ("3.12", "3.13"):
        candidates = [
            p
            for p in (pyenv_root / "versions").glob(f"{minor}.*")
            if re.fullmatch(rf"{re.escape(minor)}\.\d+", p.name) and (p / "bin").is_dir()
        ]
        if candidates:
            best = max(candidates, key=lambda p: int(p.name.rsplit(".", 1)[1]))
            added.append(str(best / "bin"))
    if added:
        os.environ["PATH"] = os.pathsep.join([*added, os.environ.get("PATH", "")])
    return added


_interpreters: dict[str, str | None] = {}


def interpreter_problem(version: str) -> str | None:
    """None if ``python{version}`` runs, else why not."""
    if version not in _interpreters:
        exe = shutil.which(f"python{version}")
        if exe is None:
            _interpreters[version] = f"python{version} is not installed (not on PATH)"
        else:
            probe = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode or probe.stdout.strip() != version:
                _interpreters[version] = f"python{version} ({exe}) does not run"
            else:
                _interpreters[version] = None
    return _interpreters[version]


def database_address(backend: str) -> tuple[str, int]:
    if backend == "postgres":
        return os.environ.get("POSTGRES_HOST") or "127.0.0.1", int(
            os.environ.get("POSTGRES_PORT") or 5432
        )
    return os.environ.get("MYSQL_HOST") or "127.0.0.1", int(os.environ.get("MYSQL_PORT") or 3306)


_databases: dict[str, str | None] = {}


def database_problem(backend: str) -> str | None:
    """None if the database server of ``backend`` answers, else why not."""
    if backend not in _databases:
        host, port = database_address(backend)
        name = "PostgreSQL" if backend == "postgres" else "MariaDB/MySQL"
        if host.startswith("/"):  # a Unix socket directory
            socket_file = Path(host) / (
                f".s.PGSQL.{port}" if backend == "postgres" else "mysqld.sock"
            )
            ok = socket_file.exists()
            where = str(socket_file)
        else:
            where = f"{host}:{port}"
            try:
                with socket.create_connection((host, port), timeout=3):
                    ok = True
            except OSError:
                ok = False
        _databases[backend] = None if ok else f"{name} does not answer at {where}"
    return _databases[backend]


def chromium_problem() -> str | None:
    """None if the Chromium the browser tests drive is installed, else why not."""
    path = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if os.access(path, os.X_OK):
        return None
    return f"Chromium is not installed at {path} (Debian: apt-get install chromium)"


def env_problems(env: str) -> tuple[list[str], list[str]]:
    """What this machine lacks for ``env``: (interpreter problems, database problems)."""
    interpreters, databases = [], []
    factors = env.split("-")
    for factor in factors:
        match = re.fullmatch(r"py(\d)(\d+)", factor)
        if match:
            problem = interpreter_problem(f"{match[1]}.{match[2]}")
            if problem:
                interpreters.append(problem)
    for backend in ("postgres", "mysql"):
        if backend in factors:
            problem = database_problem(backend)
            if problem:
                databases.append(problem)
    if "browser" in factors:
        # Like a database server: a service the env needs (strict: fails it unrun).
        problem = chromium_problem()
        if problem:
            databases.append(problem)
    return interpreters, databases


# --- running ---------------------------------------------------------------------------

SUMMARY = re.compile(r"^=+ (?P<body>(?:\d+ \w+(?:, )?)+).* in [\d.]+s.*=+$", re.MULTILINE)


def pytest_counts(output: str) -> dict[str, int]:
    """Counts from pytest's closing line (``=== 12 passed, 1 failed in 3.2s ===``)."""
    counts: dict[str, int] = {}
    found = SUMMARY.findall(output)
    if found:
        for number, word in re.findall(r"(\d+) (\w+)", found[-1]):
            counts[word] = counts.get(word, 0) + int(number)
    return counts


def list_envs(tox: Path) -> list[str]:
    listing = subprocess.run(
        [str(tox), "-qq", "list", "--no-desc", "-d"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode:
        sys.exit(f"runtests: `tox list` failed:\n{listing.stdout}{listing.stderr}")
    return [line.strip() for line in listing.stdout.splitlines() if line.strip()]


def report(result_file: Path, envs: list[str]) -> tuple[list[str], dict[str, int]]:
    """Print one line per env; return the envs that failed and the summed test counts."""
    try:
        data = json.loads(result_file.read_text())
    except (OSError, ValueError):
        data = {}
    results = data.get("testenvs", {})
    failed: list[str] = []
    totals: dict[str, int] = {}
    say("")
    say("runtests: results")
    for env in envs:
        info = results.get(env, {})
        result = info.get("result", {})
        outputs = "\n".join(step.get("output", "") for step in info.get("test", []))
        counts = pytest_counts(outputs)
        for word, number in counts.items():
            totals[word] = totals.get(word, 0) + number
        ok = bool(result.get("success")) if result else False
        if not ok:
            failed.append(env)
        duration = result.get("duration")
        took = f"{duration:6.1f}s" if isinstance(duration, (int, float)) else "     -"
        tests = ", ".join(f"{n} {w}" for w, n in counts.items())
        say(f"  {'OK  ' if ok else 'FAIL'} {took}  {env}" + (f"  ({tests})" if tests else ""))
    return failed, totals


def main() -> int:
    # Checked at run time: this script may be started with any python3.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"runtests: Python 3.11 or newer is needed, not {sys.version.split()[0]}.")
    argv = sys.argv[1:]
    posargs: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, posargs = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(
        description="Run the tox matrix (see the module docstring).",
        epilog="Arguments after -- go to pytest.",
    )
    parser.add_argument(
        "-e",
        dest="envs",
        action="append",
        default=[],
        metavar="ENVS",
        help="comma-separated tox envs to run (repeatable); default: the whole env_list",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        default=truthy(os.environ.get("CI")),
        help="fail if any interpreter or database is missing (default when CI is set)",
    )
    parser.add_argument(
        "-p",
        "--parallel",
        default=str(min(2, os.cpu_count() or 1)),
        help="how many envs to run at once (default: %(default)s; 1 runs them in turn)",
    )
    parser.add_argument("--list", action="store_true", help="print the plan, run nothing")
    parser.add_argument("-r", "--recreate", action="store_true", help="recreate the tox envs")
    args = parser.parse_args(argv)

    started = time.monotonic()
    added = add_pyenv_pythons()
    tox = ensure_tox()
    known = list_envs(tox)
    if args.envs:
        wanted = [env.strip() for chunk in args.envs for env in chunk.split(",") if env.strip()]
    else:
        wanted = known

    mode = "strict" if args.strict else "default"
    say(f"runtests: {mode} mode; {len(wanted)} env(s) asked for")
    if added:
        say(f"runtests: added to PATH: {', '.join(added)}")
    # Default mode leaves out every env this machine cannot run. Strict mode leaves out
    # nothing: envs without an interpreter go to tox, which fails them at once
    # (--skip-missing-interpreters=false); envs whose database does not answer are
    # failed here, rather than spending minutes on a hundred connection errors.
    runnable: list[str] = []
    missing: dict[str, list[str]] = {}
    not_run: dict[str, str] = {}
    for env in wanted:
        interpreters, databases = env_problems(env)
        if interpreters or databases:
            missing[env] = interpreters + databases
        if not args.strict and missing.get(env):
            continue
        if databases:
            not_run[env] = "; ".join(interpreters + databases)
            continue
        runnable.append(env)
    if missing:
        say("runtests: MISSING (strict: the run fails):" if args.strict else "runtests: LEFT OUT:")
        for env, problems in missing.items():
            say(f"  {env}: {'; '.join(problems)}")
    say(f"runtests: running {len(runnable)} env(s): {', '.join(runnable) or '-'}")
    if args.list:
        return 0
    if not runnable and not not_run:
        say("runtests: nothing to run")
        return 1

    code = 0
    failed: list[str] = []
    totals: dict[str, int] = {}
    if runnable:
        with tempfile.TemporaryDirectory(prefix="runtests-") as tmp:
            result_file = Path(tmp) / "result.json"
            command = [str(tox)]
            parallel = args.parallel
            if len(runnable) > 1 and parallel not in ("0", "1"):
                command += ["run-parallel", "-p", parallel]
                if not sys.stdout.isatty():
                    command.append("--parallel-no-spinner")
            else:
                command.append("run")
            command += ["-e", ",".join(runnable), "--result-json", str(result_file)]
            command += ["--skip-missing-interpreters", "false" if args.strict else "true"]
            if args.recreate:
                command.append("--recreate")
            if posargs:
                command += ["--", *posargs]
            say(f"runtests: tox {' '.join(command[1:])}")
            code = subprocess.run(command, cwd=ROOT, check=False).returncode
            failed, totals = report(result_file, runnable)
    if not_run and not runnable:
        say("\nruntests: results")
    for env, why in not_run.items():
        say(f"  FAIL      -  {env}  (not run: {why})")
    failed += list(not_run)
    say(f"runtests: {len(runnable)} env(s) run in {(time.monotonic() - started) / 60:.1f} min")

    if missing and not args.strict:
        say(f"runtests: left out {len(missing)} env(s): {', '.join(missing)}")
    if failed:
        say(f"runtests: FAILED: {', '.join(failed)}")
        code = code or 1
    if args.strict and missing:
        say("runtests: strict mode: a missing interpreter or database fails the run")
        code = code or 1
    if totals:
        failures = totals.get("failed", 0) + totals.get("error", 0) + totals.get("errors", 0)
        skipped = totals.get("skipped", 0)
        line = f"tests: {totals.get('passed', 0)} passed, {failures} failed"
        say(line + (f", {skipped} skipped" if skipped else ""))
    return code


if __name__ == "__main__":
    sys.exit(main())
