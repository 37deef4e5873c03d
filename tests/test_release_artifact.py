"""Build-once artifacts: determinism, verification, refusals and `edgestack build`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from infra.cli import main
from infra.plan.artifact import (
    ARTIFACT_FILE,
    ArtifactError,
    artifact_tar,
    check_against_stack,
    check_digest,
    load_artifact,
    manifest_path_for,
    write_artifact,
)
from infra.plan.bundle import build_bundle
from tests.pulumi_mocks import FAKE_SDK, fake_bundle, make_stack


@pytest.fixture
def built(tmp_path):
    return write_artifact(make_stack(), "test", fake_bundle(), tmp_path / "dist")


def test_round_trip_gives_the_same_bundle_byte_for_byte(built):
    loaded = load_artifact(built.path)
    bundle = fake_bundle()
    assert loaded.bundle == bundle
    assert [(m.name, m.content_type, m.content) for m in loaded.bundle.modules] == [
        (m.name, m.content_type, m.content) for m in bundle.modules
    ]
    assert loaded.manifest == built.manifest


def test_manifest_records_digests_modules_sdk_compatibility_and_migration_tag(built):
    manifest = json.loads(built.manifest_path.read_text())
    bundle = fake_bundle()
    assert manifest["format"] == "edgestack-artifact/1"
    assert manifest["bundle_sha256"] == bundle.sha256
    assert manifest["bundle_version"] == bundle.version
    assert manifest["artifact_sha256"] == hashlib.sha256(built.path.read_bytes()).hexdigest()
    assert manifest["modules"][0] == {
        "name": bundle.modules[0].name,
        "content_type": bundle.modules[0].content_type,
        "size": len(bundle.modules[0].content),
        "sha256": bundle.modules[0].content_sha256,
    }
    assert [m["name"] for m in manifest["modules"]] == [m.name for m in bundle.modules]
    assert manifest["sdk_version"] == "1.9.5"
    assert manifest["compatibility_date"] == "2026-11-01"
    assert manifest["compatibility_flags"] == ["python_workers", "python_workers_20260610", "nodejs_compat"]
    assert manifest["migration_tag"] == "v1"
    assert built.manifest_path == built.path.parent / "bundle.manifest.json"


def test_tar_has_fixed_metadata_in_bundle_order(built):
    with tarfile.open(built.path) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == [m.name for m in fake_bundle().modules]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}


def test_same_sources_give_the_same_bytes_whatever_the_file_times(tmp_path):
    source = tmp_path / "worker_src"
    (source / "app").mkdir(parents=True)
    (source / "entry.py").write_text("from app import core\n")
    (source / "app" / "core.py").write_text("VALUE = 1\n")
    first = artifact_tar(build_bundle(source, vendored=FAKE_SDK))
    for index, path in enumerate(sorted(source.rglob("*.py"))):
        os.utime(path, (1_000_000 + index, 2_000_000 + index))
    second = artifact_tar(build_bundle(source, vendored=FAKE_SDK))
    assert first == second
    (source / "app" / "core.py").write_text("VALUE = 2\n")
    assert artifact_tar(build_bundle(source, vendored=FAKE_SDK)) != first


def test_two_builds_write_identical_files(tmp_path):
    one = write_artifact(make_stack(), "test", fake_bundle(), tmp_path / "a")
    two = write_artifact(make_stack(), "test", fake_bundle(), tmp_path / "b")
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.manifest_path.read_bytes() == two.manifest_path.read_bytes()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask: int, mode: int):
    previous = os.umask(umask)
    try:
        artifact = write_artifact(make_stack(), "test", fake_bundle(), tmp_path / "dist")
    finally:
        os.umask(previous)
    assert (artifact.path.stat().st_mode & 0o777, artifact.manifest_path.stat().st_mode & 0o777) == (mode, mode)


# --- refusals: each one line naming the file ----------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo[ArtifactError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_missing_artifact(tmp_path):
    with pytest.raises(ArtifactError) as exc:
        load_artifact(tmp_path / "bundle.tar")
    assert _one_line(exc) == f"{tmp_path / 'bundle.tar'}: artifact not found (build it with `edgestack build STACK -o DIR`)"


def test_missing_manifest(built):
    built.manifest_path.unlink()
    with pytest.raises(ArtifactError) as exc:
        load_artifact(built.path)
    assert "manifest not found" in _one_line(exc)


def test_corrupt_artifact_is_caught_by_its_sha256(built):
    data = bytearray(built.path.read_bytes())
    data[700] ^= 0xFF
    built.path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as exc:
        load_artifact(built.path)
    assert "does not match bundle.manifest.json" in _one_line(exc)
    assert "corrupt or from another build" in str(exc.value)


def test_artifact_of_another_build_beside_this_manifest(tmp_path, built):
    other = write_artifact(make_stack(), "test", fake_bundle(app=b"VALUE = 2\n"), tmp_path / "other")
    built.path.write_bytes(other.path.read_bytes())
    with pytest.raises(ArtifactError, match="corrupt or from another build"):
        load_artifact(built.path)


def _rewrite_manifest(built, **changes):
    data = json.loads(built.manifest_path.read_text())
    data.update(changes)
    built.manifest_path.write_text(json.dumps(data))
    return data


def test_manifest_whose_module_digest_was_edited(built):
    data = json.loads(built.manifest_path.read_text())
    data["modules"][1]["sha256"] = "0" * 64
    built.manifest_path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError) as exc:
        load_artifact(built.path)
    assert f"module {data['modules'][1]['name']} has sha256" in _one_line(exc)


def test_manifest_whose_bundle_digest_was_edited(built):
    _rewrite_manifest(built, bundle_sha256="f" * 64)
    with pytest.raises(ArtifactError) as exc:
        load_artifact(built.path)
    assert "bundle_sha256 ffff" in _one_line(exc) and "does not match the modules" in str(exc.value)


def test_tar_holding_other_members_than_the_manifest(built):
    data = _rewrite_manifest(built)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("evil.py")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    built.path.write_bytes(buffer.getvalue())
    _rewrite_manifest(built, artifact_sha256=hashlib.sha256(buffer.getvalue()).hexdigest())
    with pytest.raises(ArtifactError) as exc:
        load_artifact(built.path)
    assert "does not hold the manifest's modules (missing" in _one_line(exc)
    assert data["format"] == "edgestack-artifact/1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "bundle.manifest.json:1:2: manifest is not JSON"),
        ('{"format": "edgestack-artifact/1"}', "not an edgestack artifact manifest: stack: Field required"),
        ("[]", "not an edgestack artifact manifest"),
    ],
)
def test_unreadable_manifest(built, text, expected):
    built.manifest_path.write_text(text)
    with pytest.raises(ArtifactError) as exc:
        load_artifact(built.path)
    assert expected in _one_line(exc)


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ({"worker": {"compatibility_date": "2026-12-01"}}, "built for compatibility_date 2026-11-01, stack prod has 2026-12-01"),
        ({"worker": {"compatibility_flags": []}}, "built for compatibility_flags [python_workers, python_workers_20260610, nodejs_compat]"),
        ({"worker": {"python": "3.13"}}, "stack prod has [python_workers, python_workers_20250116, nodejs_compat]"),
        (
            {"durable_object_migrations": [{"tag": "v1", "new_sqlite_classes": ["AgentState"]}, {"tag": "v2", "new_sqlite_classes": ["Other"]}]},
            "the code expects Durable Object migration tag v1, stack prod ends at v2",
        ),
    ],
)
def test_artifact_refused_for_a_stack_it_was_not_built_for(built, overlay, expected):
    with pytest.raises(ArtifactError) as exc:
        check_against_stack(built, make_stack(overlay), "prod")
    assert expected in _one_line(exc)
    assert str(exc.value).endswith("rebuild with `edgestack build prod`")


def test_artifact_accepted_by_the_stack_it_was_built_for(built):
    check_against_stack(built, make_stack(), "prod")
    check_digest(built, fake_bundle().sha256, "edgestack:bundleSha256")
    with pytest.raises(ArtifactError, match=r"differs from edgestack:bundleSha256 \(0000"):
        check_digest(built, "0" * 64, "edgestack:bundleSha256")


# --- the command --------------------------------------------------------------------------------


def test_build_command_writes_the_artifact_of_the_real_worker(tmp_path, capsys):
    assert main(["build", "prod", "-o", str(tmp_path / "dist")]) == 0
    out = capsys.readouterr().out
    artifact = load_artifact(tmp_path / "dist" / ARTIFACT_FILE)
    assert out.startswith(f"wrote {tmp_path / 'dist' / ARTIFACT_FILE} ({len(artifact.manifest.modules)} modules")
    assert manifest_path_for(artifact.path).is_file()
    assert any(m.name.startswith("python_modules/workers/") for m in artifact.bundle.modules)
    assert main(["build", "staging", "-o", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / ARTIFACT_FILE).read_bytes() == artifact.path.read_bytes()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build", "nope"], "unknown stack 'nope'"),
        (["build", "prod", "-o", "{file}"], "edgestack build: {file}: not a folder"),
    ],
)
def test_build_command_bad_input_is_one_line_exit_1(tmp_path, capsys, argv, expected):
    target = tmp_path / "a-file"
    target.write_text("")
    code = main([a.replace("{file}", str(target)) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and expected.replace("{file}", str(target)) in err


def test_artifact_path_that_is_a_folder(tmp_path):
    with pytest.raises(ArtifactError, match="is a folder; pass the artifact file"):
        load_artifact(Path(tmp_path))
