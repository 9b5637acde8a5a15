"""The suite's two pytest-xdist workers keep the tests of a shared session fixture together."""

import re
from pathlib import Path

from tests.conftest import SHARED_FIXTURE_GROUPS, shared_fixture_group

TESTS = Path(__file__).parent
FIXTURE_GROUPS = {"gated_runs": "gated_runs", "cli_run": "cli_run", "docker_daemon": "docker"}


def test_every_module_that_uses_a_shared_fixture_is_in_its_group():
    users = 0
    for path in sorted(TESTS.rglob("test_*.py")):
        if path == Path(__file__):
            continue
        module = path.relative_to(TESTS.parent).as_posix()
        text = path.read_text()
        for fixture, group in FIXTURE_GROUPS.items():
            if re.search(rf"\b{fixture}\b", text):
                users += 1
                assert shared_fixture_group(f"{module}::test_x") == group, module
    assert users >= 4  # the gated runs' two modules, the CLI's, the Kubeflow e2e's


def test_other_tests_are_scheduled_one_by_one():
    assert shared_fixture_group("tests/pruning/test_tflite.py::test_a") == (
        "tests/pruning/test_tflite.py::test_a")
    assert set(SHARED_FIXTURE_GROUPS.values()) == {"docker", "gated_runs", "cli_run"}
