"""The committed generated code matches what ``python -m tuner._proto.generate`` makes now."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tuner._proto import generate

pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) regenerates the protos")

# Stamps of the tool versions: a newer grpcio-tools changes them, not the API.
_VERSION_STAMPS = [
    (re.compile(r"^# Protobuf Python Version: .*$", re.M), "# Protobuf Python Version: X"),
    (
        re.compile(r"ValidateProtobufRuntimeVersion\(\s*([^,]+),\s*\d+,\s*\d+,\s*\d+,", re.M),
        r"ValidateProtobufRuntimeVersion(\1, X, X, X,",
    ),
    (re.compile(r"^GRPC_GENERATED_VERSION = .*$", re.M), "GRPC_GENERATED_VERSION = X"),
]


def _normalized(path: Path) -> str:
    text = path.read_text()
    for pattern, replacement in _VERSION_STAMPS:
        text = pattern.sub(replacement, text)
    return text


def test_committed_code_is_fresh(tmp_path: Path) -> None:
    fresh = generate.generate(tmp_path)
    committed = generate.generated_files(generate.REPO_ROOT)
    assert [p.name for p in fresh] == [p.name for p in committed], (
        "generated files differ: run python -m tuner._proto.generate and commit"
    )
    stale = [
        p.name for p, q in zip(fresh, committed, strict=True) if _normalized(p) != _normalized(q)
    ]
    assert not stale, (
        f"stale generated code {stale}: run python -m tuner._proto.generate and commit"
    )


def test_every_proto_is_compiled() -> None:
    protos = sorted(p.stem for p in (generate.PROTO_ROOT / "tuner" / "_proto").glob("*.proto"))
    modules = sorted(
        p.name.removesuffix("_pb2.py")
        for p in generate.generated_files(generate.REPO_ROOT)
        if p.name.endswith("_pb2.py")
    )
    assert protos == modules


def test_generated_modules_import_each_other() -> None:
    from tuner._proto import service_pb2, service_pb2_grpc, study_pb2, trial_pb2

    service = service_pb2.DESCRIPTOR.services_by_name["TunerService"]
    assert service.full_name == "tuner.v1.TunerService"
    assert service_pb2_grpc.TunerServiceStub is not None
    assert study_pb2.Study.DESCRIPTOR.full_name == "tuner.v1.Study"
    assert trial_pb2.Trial.DESCRIPTOR.full_name == "tuner.v1.Trial"


def test_one_rpc_per_backend_method() -> None:
    from tuner._proto import service_pb2
    from tuner.backend import Backend

    methods = {
        name
        for name in vars(Backend)
        if not name.startswith("_") and callable(getattr(Backend, name))
    }
    camel = {"".join(part.title() for part in name.split("_")) for name in methods}
    rpcs = set(service_pb2.DESCRIPTOR.services_by_name["TunerService"].methods_by_name)
    assert rpcs == camel
