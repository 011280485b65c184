"""``python -m ops ...`` run in this process (``ops.__main__.main``): the exit status, stdout and
stderr a user sees, without a new interpreter per case (imports cost ~0.5 s each; the suite's
budget is 90 s). The commands that need a real process (a pipe, another PATH) keep using one.
"""

from __future__ import annotations

import contextlib
import io
import subprocess

from ops.__main__ import main
from tests.support.stackfiles import ROOT


def ops(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ops *args`` from the project's root, as a completed process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["ops", *args], code, out.getvalue(), err.getvalue())
