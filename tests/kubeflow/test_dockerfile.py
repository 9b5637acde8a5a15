"""kubeflow/Dockerfile as written: its base, what it installs, and the user its steps run as.
(test_kfp_local_e2e.py builds it and runs every step in it.)"""

from __future__ import annotations

import re
import subprocess

from pipelines import configs

DOCKERFILE = configs.PROJECT_ROOT / "kubeflow" / "Dockerfile"
LOCK = configs.PROJECT_ROOT / "requirements" / "lock.txt"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())  # join continued lines
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), " ".join(rest.split())))
    return rows


def _of(keyword: str) -> list[str]:
    return [rest for k, rest in _instructions() if k == keyword]


def test_base_image_is_an_argument_defaulting_to_python_3_11_on_trixie():
    assert _of("ARG")[0] == "BASE_IMAGE=python:3.11-slim-trixie"  # Debian 13: glibc 2.41
    assert _of("FROM") == ["${BASE_IMAGE}"]  # one stage: no venv copied between stages


def test_the_lock_is_installed_hash_checked_by_its_own_uv_and_then_the_project():
    runs = " && ".join(_of("RUN"))
    installs = [part.strip() for part in runs.split("&&") if " install " in part
                or " sync " in part]
    installs = [part for part in installs if "apt-get" not in part]
    assert installs == [
        "/opt/venv/bin/pip install --quiet --no-deps --require-hashes -r /tmp/uv.txt",
        "VIRTUAL_ENV=/opt/venv /opt/venv/bin/uv pip sync --quiet --no-cache --require-hashes "
        "--compile-bytecode /tmp/lock.txt",
        "uv pip install --quiet --no-cache --no-deps --compile-bytecode .",
    ]
    assert _of("COPY")[0] == "requirements/lock.txt /tmp/lock.txt"  # before the project


def test_the_compiler_is_purged_in_the_layer_that_needs_it():
    [venv] = [run for run in _of("RUN") if " sync " in run]
    steps = [step.strip() for step in venv.split("&&")]
    [install] = [i for i, step in enumerate(steps) if "apt-get install" in step]
    [sync] = [i for i, step in enumerate(steps) if " sync " in step]
    [purge] = [i for i, step in enumerate(steps) if "apt-get purge" in step]
    assert install < sync < purge  # a later layer could not take the compiler's bytes back
    assert _packages(steps[install], "install") == _packages(steps[purge], "purge") == {
        "g++", "libc6-dev", "libc-dev-bin", "$dev"}


def _packages(command: str, verb: str) -> set[str]:
    words = command.split()
    words = words[words.index(verb) + 1:]
    values = {i + 1 for i, word in enumerate(words) if word == "-o"}  # -o NAME=VALUE
    return {word.strip('"').split("=")[0] for i, word in enumerate(words)
            if i not in values and not word.startswith(("-", ">"))}


def test_uv_is_taken_from_the_lock_with_its_hashes():
    [extract] = re.findall(r"awk '(.*?)' /tmp/lock.txt", DOCKERFILE.read_text())
    pinned = subprocess.run(["awk", extract, str(LOCK)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    version = re.search(r"^uv==([0-9.]+) ", LOCK.read_text(), re.M).group(1)
    assert pinned[0] == f"uv=={version} \\"
    assert len(pinned) > 2 and all(line.strip().startswith("--hash=sha256:")
                                   for line in pinned[1:])


def test_every_package_the_project_installs_is_copied():
    pyproject = (configs.PROJECT_ROOT / "pyproject.toml").read_text()
    [include] = re.findall(r"include = \[(.*?)\]", pyproject)
    packages = {name.strip(' "*') for name in include.split(",")}
    assert packages == {"pipelines", "components", "pruning"}
    for package in packages:
        assert f"{package} {package}" in _of("COPY"), package
    ignored = (configs.PROJECT_ROOT / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*") + 1:].count("!pipelines") == 1  # the context allows them
    assert all(f"!{package}" in ignored for package in packages)


def test_steps_run_as_a_numeric_unprivileged_user_with_legacy_keras():
    [user] = _of("USER")
    uid, gid = (int(part) for part in user.split(":"))
    assert uid > 0 and gid > 0  # numeric: Kubernetes' runAsNonRoot can check it
    envs = " ".join(_of("ENV"))
    assert "TF_USE_LEGACY_KERAS=1" in envs and "PATH=/opt/venv/bin:$PATH" in envs
