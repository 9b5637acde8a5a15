"""The suite runs the same whatever option variables the user exported (conftest.py clears them).

Proved on the tests that read the environment most (the options, the deploy client, the Kubeflow
entry points), run by a second pytest with every variable exported to a value that breaks any
code still reading it."""

from __future__ import annotations

import os
import subprocess
import sys

from pipelines import configs
from tests.support import OPTION_VARIABLES, clear_option_variables

READERS = ("tests/pipelines/test_configs.py", "tests/kubeflow/test_deploy.py",
           "tests/kubeflow/test_runner.py")


def test_every_option_variable_is_cleared_and_reported():
    environ = {name: "exported" for name in OPTION_VARIABLES} | {"HOME": "/root"}
    removed = clear_option_variables(environ)
    assert environ == {"HOME": "/root"}
    assert set(removed) == OPTION_VARIABLES
    assert {option.env for option in configs.OPTIONS.values()} <= OPTION_VARIABLES


def test_the_environment_readers_pass_with_every_option_exported():
    hostile = {name: "exported-by-the-user" for name in OPTION_VARIABLES}
    # One process (`-n 0`), not a worker of this session's pytest-xdist.
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("PYTEST_XDIST")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", *READERS],
        env={**environ, **hostile}, cwd=configs.PROJECT_ROOT, capture_output=True,
        text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "option variables cleared for the tests: " + ", ".join(sorted(hostile)) in done.stdout
    assert " passed" in done.stdout and "skipped" not in done.stdout
