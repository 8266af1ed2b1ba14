#!/usr/bin/env python3
"""Run the example project: ``python demo.py [--no-server]``.

Needs only Python (3.11 or newer). The first run creates ``.venv-demo`` and installs
the package into it (editable, so code changes show without reinstalling); later runs
reuse it, reinstalling only when the packaging files change. Then it migrates and seeds
the example project (``example_project/``, SQLite in ``example_project/db.sqlite3``;
seeding is idempotent, so running this again adds nothing twice), prints the address
and the logins, and serves the site on 127.0.0.1 at the port in ``PORT`` (default 8000)
until Ctrl+C.

    --no-server   do everything but start the server
    --reinstall   reinstall the package into .venv-demo even if nothing changed
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv-demo"
MANAGE = ROOT / "example_project" / "manage.py"
BIN = "Scripts" if os.name == "nt" else "bin"
PYTHON = VENV / BIN / ("python.exe" if os.name == "nt" else "python")
LOGINS = [
    ("admin", "admin", "superuser: everything in the admin"),
    ("alice", "alice", "a referrer with points, credit and commission in two programs"),
    ("tech", "tech", "staff technician: fulfils redemptions in the portal's fulfilment queue"),
]


def say(message: str = "") -> None:
    print(message, flush=True)


def packaging_fingerprint() -> str:
    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for name in ("setup.cfg", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv(*, reinstall: bool) -> None:
    stamp = VENV / ".installed"
    fingerprint = packaging_fingerprint()
    if (
        not reinstall
        and PYTHON.exists()
        and stamp.exists()
        and stamp.read_text() == fingerprint
        and subprocess.run(
            [str(PYTHON), "-c", "import django, django_referral_rewards, rest_framework"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    ):
        say(f"demo: reusing {VENV.name}")
        return
    if not PYTHON.exists():
        say(f"demo: creating {VENV.name} ...")
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as exc:  # e.g. Debian's python3 without python3-venv
            sys.exit(f"demo: could not create {VENV}: {exc}\n(On Debian: apt install python3-venv)")
    say(f"demo: installing django-referral-rewards (editable) into {VENV.name} ...")
    # The api extra: the example project serves the REST API too.
    for args in (["--upgrade", "pip"], ["--editable", f"{ROOT}[api]"]):
        # Quiet unless it fails: the build backend's warnings are not news for a demo.
        done = subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "--quiet", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            say(done.stdout + done.stderr)
            raise subprocess.CalledProcessError(done.returncode, done.args)
    stamp.write_text(fingerprint)


def manage(*args: str) -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="example_project.settings")
    env.pop("PYTHONPATH", None)
    subprocess.run([str(PYTHON), str(MANAGE), *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    # Checked at run time: this script may be started with any python3.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"demo: Python 3.11 or newer is needed, not {sys.version.split()[0]}.")
    parser = argparse.ArgumentParser(description="Set up and serve the example project.")
    parser.add_argument("--no-server", action="store_true", help="stop before serving")
    parser.add_argument("--reinstall", action="store_true", help="reinstall the package")
    args = parser.parse_args()
    port = os.environ.get("PORT") or "8000"
    if not port.isdigit() or not 0 < int(port) < 65536:
        sys.exit(f"demo: PORT must be a port number, not {port!r}")

    try:
        ensure_venv(reinstall=args.reinstall)
        say("demo: migrating example_project/db.sqlite3 ...")
        manage("migrate", "--noinput", "--verbosity", "0")
        say("demo: seeding demo data ...")
        manage("seed_demo")
    except subprocess.CalledProcessError as exc:
        say(f"demo: failed: {' '.join(map(str, exc.cmd))} exited {exc.returncode}")
        return exc.returncode or 1

    url = f"http://127.0.0.1:{port}/"
    say("")
    say(f"  Example shop:  {url}")
    say(f"  Admin:         {url}admin/")
    say("  Logins:")
    for username, password, what in LOGINS:
        say(f"    {username} / {password}".ljust(22) + what)
    say("  Referral flow: open alice's share link (printed above) in a private window,")
    say(f"  sign up and order at {url}shop/; alice's rewards: {url}portal/")
    say(f"  Fulfilment queue: log in as tech and open {url}portal/fulfilment/")
    say("")
    if args.no_server:
        say("demo: --no-server given; start the server with:")
        say(f"  {PYTHON.relative_to(ROOT)} example_project/manage.py runserver 127.0.0.1:{port}")
        return 0

    say("demo: serving (Ctrl+C to stop) ...")
    command = [str(PYTHON), str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"]
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="example_project.settings")
    env.pop("PYTHONPATH", None)
    if os.name == "posix":
        # Become the server process, so that stopping this process stops the server.
        os.chdir(ROOT)
        os.execve(command[0], command, env)
    try:
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
