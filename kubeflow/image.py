"""The step image on this machine's Docker: checks that fail in seconds, and `make kfp-image`.

    make kfp-image [KFP_IMAGE=REGISTRY/tfx-pruning-pipeline:TAG] [KFP_BASE_IMAGE=...]
    python -m kubeflow.image [--base-image IMAGE]

Builds kubeflow/Dockerfile as `KFP_IMAGE`. The base is `KFP_BASE_IMAGE`, by default the public
`python:3.11-slim-trixie`; where that cannot be pulled (no registry reachable), a base made from
Debian's packages by scripts/kfp_base_image.sh instead. Only the build uses the network (the
host's, for pip); the steps need none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipelines import configs, entrypoint

if TYPE_CHECKING:
    import docker

DOCKERFILE = configs.PROJECT_ROOT / "kubeflow" / "Dockerfile"
BASE_SCRIPT = configs.PROJECT_ROOT / "scripts" / "kfp_base_image.sh"
DAEMON_SCRIPT = configs.PROJECT_ROOT / "scripts" / "dockerd.sh"
PUBLIC_BASE = "python:3.11-slim-trixie"
DEBIAN_BASE = "tfx-pruning-base:bookworm-py3.11"
BASE_ENV = "KFP_BASE_IMAGE"
START_DAEMON = "make docker-start"


class DockerError(Exception):
    """Docker cannot do what was asked; the message names the cause and the fix, in one line."""


def client(timeout: float = 10.0, start: bool = False) -> docker.DockerClient:
    """A client of a daemon that answers, or DockerError naming what is missing.

    start: where none answers on the default socket (DOCKER_HOST unset), dockerd is installed and
    this runs as root, start one with scripts/dockerd.sh first (it keeps running; `make
    docker-stop` stops it), as on a fresh machine where no service manager runs Docker."""
    import docker

    if shutil.which("docker") is None and shutil.which("dockerd") is None:
        raise DockerError("Docker is not installed: apt-get install docker.io "
                          "(scripts/setup_os.sh installs it), then " + START_DAEMON)
    try:
        return _answering(docker.from_env(timeout=timeout))
    except docker.errors.DockerException as error:
        can_start = (start and not os.environ.get("DOCKER_HOST") and shutil.which("dockerd")
                     and os.geteuid() == 0)
        if not can_start:
            host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            reason = str(error).split(": ", 1)[-1][:160]
            raise DockerError(f"Docker's daemon does not answer at {host} ({reason}): start "
                              f"it with `{START_DAEMON}` (or `systemctl start docker`)") from None
    subprocess.run(["bash", str(DAEMON_SCRIPT), "start"], check=True)
    return client(timeout)


def _answering(found: docker.DockerClient) -> docker.DockerClient:
    found.ping()
    return found


def has_image(found: docker.DockerClient, name: str) -> bool:
    import docker

    try:
        found.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def require_image(found: docker.DockerClient, name: str) -> docker.models.images.Image:
    """The local image `name`, or DockerError naming the command that builds it. Nothing is
    pulled: a run uses the image built from this checkout."""
    import docker

    try:
        return found.images.get(name)
    except docker.errors.ImageNotFound:
        raise DockerError(f"image {name} is not built on this machine's Docker: build it with "
                          f"`make kfp-image KFP_IMAGE={name}`") from None


def image_user(image: docker.models.images.Image) -> tuple[int, int] | None:
    """(uid, gid) the image's steps run as, when its USER is numeric (ours is)."""
    user = image.attrs.get("Config", {}).get("User") or ""
    uid, _, gid = user.partition(":")
    if uid.isdigit():
        return int(uid), int(gid or uid)
    return None


def resolve_base(found: docker.DockerClient, base: str | None) -> str:
    """The base image to build on: the one asked for, else the public one when it is here or can
    be pulled, else one built from Debian's packages."""
    if base:
        if not has_image(found, base):
            pull(base)
        return base
    if has_image(found, PUBLIC_BASE):
        return PUBLIC_BASE
    try:
        pull(PUBLIC_BASE)
        return PUBLIC_BASE
    except DockerError as error:
        print(f"kfp-image: {error}; building the base {DEBIAN_BASE} from Debian's packages "
              f"instead ({BASE_SCRIPT.relative_to(configs.PROJECT_ROOT)})", flush=True)
    subprocess.run(["bash", str(BASE_SCRIPT), DEBIAN_BASE], check=True)
    return DEBIAN_BASE


def pull(name: str) -> None:
    done = subprocess.run(["docker", "pull", "--quiet", name], capture_output=True, text=True)
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise DockerError(f"cannot pull {name}: {reason}")


def build(tag: str, base: str) -> float:
    """Builds kubeflow/Dockerfile from the repository root as `tag`; its seconds."""
    started = time.monotonic()
    # The classic builder: it honours --network host (the build's pip reaches the index as the
    # host does) and caches each layer; BuildKit needs an entitlement for host networking.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    subprocess.run(["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}",
                    "--file", str(DOCKERFILE), "--tag", tag, str(configs.PROJECT_ROOT)],
                   check=True, env=env)
    return time.monotonic() - started


def main(argv: Sequence[str] | None = None) -> int:
    prog = "kfp-image"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-image", default=os.environ.get(BASE_ENV) or None,
                        metavar=BASE_ENV, help=f"base image (default {PUBLIC_BASE}, else one "
                        "built from Debian's packages where no registry is reachable)")
    args, rest = parser.parse_known_args(argv)
    config = entrypoint.load_config_or_exit(prog, rest, "Build the Kubeflow step image.")
    try:
        found = client(start=True)
        base = resolve_base(found, args.base_image)
        seconds = build(config.kfp_image, base)
        size = found.images.get(config.kfp_image).attrs["Size"]
    except DockerError as error:
        entrypoint.fail(prog, str(error))
    except subprocess.CalledProcessError as error:  # its own output says why
        entrypoint.fail(prog, f"`{' '.join(map(str, error.cmd[:2]))}` failed (exit status "
                              f"{error.returncode}); its output is above", 1)
    print(f"Built {config.kfp_image} on {base} in {seconds:.0f} s ({size / 1e9:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
