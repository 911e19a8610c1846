"""docker/Dockerfile, read statically (there is no Docker engine here) and built where it can be.

Docker's own parser (the ``dockerfile`` package) reads the file; every file it copies must be
in the build context that /.dockerignore leaves; every command it names must exist; and the
wheel stage's build runs for real on the files the stage copies.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml

from tuner.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _commands() -> tuple[Any, ...]:
    commands: tuple[Any, ...] = dockerfile.parse_file(str(DOCKERFILE))
    return commands


def _stages() -> dict[str, list[Any]]:
    """Each stage's instructions, by stage name (the FROM line first)."""
    stages: dict[str, list[Any]] = {}
    current: list[Any] | None = None
    for command in _commands():
        if command.cmd == "FROM":
            words = command.value
            assert len(words) == 3 and words[1].upper() == "AS", f"unnamed stage: {words}"
            current = stages.setdefault(words[2], [])
        if current is not None:
            current.append(command)
    return stages


def _flag(command: Any, name: str) -> str | None:
    for flag in command.flags:
        if flag.startswith(f"--{name}="):
            return str(flag.split("=", 1)[1])
    return None


# -- the build context ------------------------------------------------------------------------


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """/.dockerignore as (is_exception, regex), in order; Docker's matching rules."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex = ""
        index = 0
        while index < len(pattern):
            if pattern.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif pattern.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif pattern[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif pattern[index] == "?":
                regex, index = regex + "[^/]", index + 1
            elif pattern[index] == "[":
                end = pattern.index("]", index)
                regex, index = regex + pattern[index : end + 1], end + 1
            else:
                regex, index = regex + re.escape(pattern[index]), index + 1
        rules.append((exception, re.compile(regex)))
    return rules


def _in_context(relative: str) -> bool:
    """Whether Docker sends ``relative`` (a path in the checkout) to the build."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for exception, regex in _ignore_rules():
        # A pattern matches a path or any folder above it.
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not exception
    return not excluded


def _checkout_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [path for path in listed if (ROOT / path).is_file()]


def _context() -> set[str]:
    return {path for path in _checkout_files() if _in_context(path)}


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "tuner.db",
        "tests/test_cli.py",
        "bench/compare.py",
        ".tuner/logs/trial-1.log",
        "tuner/__pycache__/cli.cpython-311.pyc",
        "examples/tuner.db",
        "docker/Dockerfile",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert not _in_context(path)


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "tuner/cli.py",
        "tuner/store/migrations/env.py",
        "algorithms/__init__.py",
        "collectors/__main__.py",
        "examples/train_sklearn.py",
    ],
)
def test_dockerignore_lets_in(path: str) -> None:
    assert _in_context(path)


def test_every_copied_file_is_in_the_build_context() -> None:
    context = _context()
    stages = _stages()
    for name, commands in stages.items():
        for command in commands:
            if command.cmd not in ("COPY", "ADD"):
                continue
            source_stage = _flag(command, "from")
            *sources, _destination = command.value
            if source_stage is not None:
                assert source_stage in stages, f"{command.original}: no stage {source_stage}"
                earlier = list(stages).index(source_stage) < list(stages).index(name)
                assert earlier, f"{command.original}: {source_stage} comes later"
                continue
            for source in sources:
                clean = source.rstrip("/")
                found = [p for p in context if p == clean or p.startswith(f"{clean}/")]
                assert found, f"{command.original}: {source} is not in the build context"


def test_the_context_holds_every_installed_package() -> None:
    context = _context()
    for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        assert f"{folder}/__init__.py" in context, package


# -- the stages ---------------------------------------------------------------------------------


def test_stages_build_on_python_3_11_slim() -> None:
    (arg,) = [c for c in _commands() if c.cmd == "ARG" and c.value[0].startswith("PYTHON_IMAGE")]
    assert arg.value == ("PYTHON_IMAGE=python:3.11-slim",)
    bases = {name: commands[0].value[0] for name, commands in _stages().items()}
    assert bases == {
        "wheel": "${PYTHON_IMAGE}",
        "runtime": "${PYTHON_IMAGE}",
        "trial": "runtime",
        "tuner": "runtime",
    }


def _last(stage: str, instruction: str) -> Any:
    stages = _stages()
    chain = [stage]
    while stages[chain[-1]][0].value[0] in stages:
        chain.append(stages[chain[-1]][0].value[0])
    for name in chain:
        found = [c for c in stages[name] if c.cmd == instruction]
        if found:
            return found[-1]
    return None


def test_the_default_target_is_the_tuner_image() -> None:
    assert list(_stages())[-1] == "tuner"  # docker build without --target builds the last
    entry = _last("tuner", "ENTRYPOINT")
    assert entry.json and entry.value == ("tuner",)
    assert PYPROJECT["project"]["scripts"]["tuner"] == "tuner.cli:main"


@pytest.mark.parametrize("stage", ["tuner", "trial"])
def test_images_run_as_the_manifests_non_root_user(stage: str) -> None:
    user = _last(stage, "USER").value[0]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    # Kubernetes can check runAsNonRoot only against a numeric user; the manifests agree.
    for path in (ROOT / "docker" / "deploy").glob("*deployment.yaml"):
        pod = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == int(uid), path.name
        assert pod["securityContext"]["runAsGroup"] == int(gid), path.name


def _pip_extras(stage: str) -> set[str]:
    extras: set[str] = set()
    for command in _stages()[stage]:
        if command.cmd == "RUN" and "pip install" in command.value[0]:
            for group in re.findall(r"\$\{wheel\}\[([^\]]*)\]", command.value[0]):
                extras.update(group.split(","))
    return extras


def test_installed_extras_exist() -> None:
    known = set(PYPROJECT["project"]["optional-dependencies"])
    assert _pip_extras("runtime") == {"postgresql", "mysql", "kubernetes"}
    assert _pip_extras("trial") == {"examples", "tfevents"}  # tfevents: its collector
    assert _pip_extras("runtime") | _pip_extras("trial") <= known


def test_trial_image_runs_the_examples_in_place() -> None:
    copies = [c for c in _stages()["trial"] if c.cmd == "COPY" and _flag(c, "from") is None]
    assert [c.value for c in copies] == [("examples/", "/opt/tuner/examples/")]
    assert _last("trial", "WORKDIR").value == ("/opt/tuner/examples",)
    cluster = yaml.safe_load((ROOT / "examples" / "cluster" / "quickstart.yaml").read_text())
    template = cluster["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    (container,) = template["containers"]
    assert "workingDir" not in container  # the image's WORKDIR is where the script is
    assert container["command"][0] == "python"
    assert (ROOT / "examples" / container["command"][1]).is_file()


def test_the_service_port_is_exposed() -> None:
    assert _last("tuner", "EXPOSE").value == ("6789",)


# -- what the comments promise -------------------------------------------------------------------


def _documented(role: str) -> list[str]:
    """The command the Dockerfile's header gives for ``role`` (``#   role: command``)."""
    for line in DOCKERFILE.read_text().splitlines():
        match = re.fullmatch(rf"#\s+{role}:\s+(.*)", line)
        if match:
            return shlex.split(match.group(1))
    raise AssertionError(f"no {role} command in the Dockerfile's header")


@pytest.mark.parametrize("role", ["service", "operator"])
def test_documented_tuner_commands_parse(role: str) -> None:
    words = _documented(role)
    assert words[0] == "tuner"
    _parser().parse_args(words[1:])


def test_documented_collector_command_runs(tmp_path: Path) -> None:
    words = _documented("collector")
    assert words[:3] == ["python", "-m", "tuner.collectors"]
    separator = words.index("--")
    trial = [sys.executable, "-c", "print('epoch=1 accuracy=0.5')"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    run = subprocess.run(
        [sys.executable, *words[1:separator], "--", *trial],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "accuracy=0.5" in run.stdout


# -- the wheel stage, for real --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_wheel_stage_builds_tuner_from_what_it_copies(tmp_path: Path) -> None:
    workdir = tmp_path / "src"
    wheels = tmp_path / "wheels"
    run_lines = []
    for command in _stages()["wheel"]:
        if command.cmd == "WORKDIR":
            assert command.value == ("/src",)
            workdir.mkdir()
        elif command.cmd == "COPY":
            *sources, destination = command.value
            target = workdir / destination
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        target,  # a folder's contents go into the destination folder
                        ignore=lambda folder, names: [
                            n for n in names if not _in_context(_relative(Path(folder) / n))
                        ],
                        dirs_exist_ok=True,
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
        elif command.cmd == "RUN":
            run_lines.append(command.value[0])
    assert run_lines == ["pip wheel --no-deps --wheel-dir /wheels ."]
    # The same pip command; build isolation off, so no download of setuptools.
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
            *("--wheel-dir", str(wheels), "."),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
        timeout=150,
    )
    (wheel,) = wheels.glob("tuner-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "tuner = tuner.cli:main" in archive.read(entry_points).decode()
    for package in PYPROJECT["tool"]["setuptools"]["packages"]:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    assert "tuner/store/migrations/script.py.mako" in names
    assert not [n for n in names if "__pycache__" in n]


def _relative(path: Path) -> str:
    return path.resolve().relative_to(ROOT).as_posix()
