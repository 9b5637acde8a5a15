"""kubeflow/Dockerfile (no Docker engine here): installs exactly the lock and the project."""

from __future__ import annotations

import re

from pipelines import configs

DOCKERFILE = configs.PROJECT_ROOT / "kubeflow" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())  # join continued lines
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def test_base_image_is_python_3_11_on_a_new_enough_glibc():
    [base] = [rest for keyword, rest in _instructions() if keyword == "FROM"]
    assert base.startswith("python:3.11") and "trixie" in base  # Debian 13: glibc 2.41


def test_only_the_lock_and_the_project_are_installed():
    runs = [rest for keyword, rest in _instructions() if keyword == "RUN"]
    installs = [part.strip() for run in runs for part in run.split("&&")
                if "pip install" in part]
    assert installs == ["pip install --no-deps --require-hashes -r requirements/lock.txt",
                        "pip install --no-deps ."]
    copies = [rest for keyword, rest in _instructions() if keyword == "COPY"]
    assert copies[0] == "requirements/lock.txt requirements/lock.txt"  # before the project
    assert "pyproject.toml README.md ./" in copies


def test_every_package_the_project_installs_is_copied():
    pyproject = (configs.PROJECT_ROOT / "pyproject.toml").read_text()
    [include] = re.findall(r"include = \[(.*?)\]", pyproject)
    packages = {name.strip(' "*') for name in include.split(",")}
    assert packages == {"pipelines", "components", "pruning"}
    copies = [rest for keyword, rest in _instructions() if keyword == "COPY"]
    for package in packages:
        assert f"{package} {package}" in copies, package


def test_legacy_keras_is_set_for_every_step():
    envs = " ".join(rest for keyword, rest in _instructions() if keyword == "ENV")
    assert "TF_USE_LEGACY_KERAS=1" in envs
