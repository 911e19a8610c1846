"""Regenerate the protobuf and gRPC modules of ``tuner._proto`` from ``protos/``.

Run ``python -m tuner._proto.generate`` from a checkout after editing a ``.proto`` file,
and commit the result. It needs the ``dev`` extra (``grpcio-tools``, ``mypy-protobuf``).
``tests/_proto/test_generated.py`` regenerates into a temporary folder and fails when the
committed files differ.
"""

from __future__ import annotations

import argparse
import importlib.resources
import logging
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["PROTO_ROOT", "REPO_ROOT", "generate", "generated_files", "main"]

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout holding ``protos/`` and ``tuner/``."""

PROTO_ROOT = REPO_ROOT / "protos"
"""The import root of the ``.proto`` files (``protoc -Iprotos``)."""

_PROTO_DIR = PROTO_ROOT / "tuner" / "_proto"
_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _plugin(name: str) -> str:
    """The path of a protoc plugin installed beside this interpreter, or on ``PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ImportError(f"{name} not found: pip install 'tuner[dev]' (mypy-protobuf)")
    return found


def generated_files(out_dir: Path) -> list[Path]:
    """The generated files under ``out_dir`` (a folder holding ``tuner/_proto/``), sorted."""
    folder = out_dir / "tuner" / "_proto"
    return sorted(p for p in folder.iterdir() if p.name.endswith(_SUFFIXES))


def generate(out_dir: Path = REPO_ROOT) -> list[Path]:
    """Compile every ``.proto`` under ``protos/tuner/_proto`` into ``out_dir/tuner/_proto``.

    Writes ``<name>_pb2.py``, ``<name>_pb2_grpc.py`` and their ``.pyi`` stubs; stale
    generated files of protos that no longer exist are removed.

    Args:
        out_dir: The folder that receives ``tuner/_proto/...``; the checkout by default.

    Returns:
        The generated files, sorted.

    Raises:
        ImportError: ``grpcio-tools`` or ``mypy-protobuf`` is not installed.
        FileNotFoundError: There are no ``.proto`` files (not a checkout).
        RuntimeError: ``protoc`` failed; the files in ``out_dir`` are left as they were.
    """
    try:
        from grpc_tools import protoc  # type: ignore[import-untyped]  # dev-only
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("grpcio-tools is missing: pip install 'tuner[dev]'") from error

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in _PROTO_DIR.glob("*.proto"))
    if not protos:
        raise FileNotFoundError(f"no .proto files under {_PROTO_DIR}: run from a checkout")
    target = out_dir / "tuner" / "_proto"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        well_known = importlib.resources.files("grpc_tools") / "_proto"
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
            f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
            f"--python_out={scratch}",
            f"--grpc_python_out={scratch}",
            f"--mypy_out={scratch}",
            f"--mypy_grpc_out={scratch}",
            *protos,
        ]
        status = protoc.main(args)
        if status != 0:
            raise RuntimeError(f"protoc failed with status {status}: {' '.join(args)}")
        # Only now that protoc succeeded: replace the old files, dropping those of
        # protos that no longer exist.
        for stale in generated_files(out_dir):
            stale.unlink()
        for fresh in generated_files(Path(scratch)):
            shutil.copyfile(fresh, target / fresh.name)
    files = generated_files(out_dir)
    logger.info("generated %d files in %s", len(files), target)
    return files


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tuner._proto.generate [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT,
        help="folder that receives tuner/_proto/ (default: the checkout)",
    )
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    generate(options.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
