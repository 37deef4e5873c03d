"""Build-once release artifacts: the bundle's modules as a deterministic tar plus a manifest.

`edgestack build STACK -o dist/` writes `dist/bundle.tar` (every module of `infra.plan.bundle`'s
bundle, in bundle order, with fixed mtime/owner/mode, so the same sources always give the same
bytes) and `dist/bundle.manifest.json` beside it. The manifest records:

* `bundle_sha256`: the bundle digest (`infra.plan.bundle.bundle_sha256`, over module names, content
  types and contents). It is the stack output `bundleSha256`, the value `edgestack:bundleSha256`
  pins and the digest `edgestack promote` compares; `/healthz` shows its first 12 hex digits.
* `artifact_sha256`: the sha256 of the tar file itself, to detect a corrupt or replaced file.
* every module's name, content type, size and sha256;
* the vendored `workers-runtime-sdk` version, the compatibility date and flags and the Durable
  Object migration tag the code expects (the newest tag of the stack file it was built from).

`load_artifact` verifies all of it and gives back the `Bundle`, so a deploy from an artifact sends
exactly the module inputs a source build of the same tree would. Every problem is one line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.errors import EdgestackError
from infra.plan.bundle import Bundle, Module, bundle_sha256
from infra.plan.do_migrations import latest_tag
from infra.plan.sdk_pin import WORKERS_RUNTIME_SDK_VERSION
from infra.spec import Stack

ARTIFACT_FORMAT: Literal["edgestack-artifact/1"] = "edgestack-artifact/1"
ARTIFACT_FILE = "bundle.tar"
MANIFEST_SUFFIX = ".manifest.json"
_FILE_MODE = 0o644


class ArtifactError(EdgestackError):
    """A one-line reason an artifact cannot be built, read or used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModuleEntry(_Strict):
    name: str = Field(min_length=1)
    content_type: str = Field(min_length=1)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(_Strict):
    format: Literal["edgestack-artifact/1"]
    stack: str
    artifact: str = Field(description="File name of the tar, beside the manifest")
    artifact_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bundle_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bundle_version: str
    main_module: str
    modules: tuple[ModuleEntry, ...] = Field(min_length=1)
    sdk_version: str
    compatibility_date: str
    compatibility_flags: tuple[str, ...]
    migration_tag: str | None

    def to_json_text(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Artifact:
    path: Path
    manifest_path: Path
    manifest: Manifest
    bundle: Bundle


def manifest_path_for(tar_path: Path) -> Path:
    """`dist/bundle.tar` -> `dist/bundle.manifest.json`."""
    return tar_path.with_name(tar_path.stem + MANIFEST_SUFFIX)


def artifact_tar(bundle: Bundle) -> bytes:
    """The bundle's modules as a tar with fixed metadata: equal bundles give equal bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for module in bundle.modules:
            info = tarfile.TarInfo(module.name)
            info.size = len(module.content)
            info.mtime = 0
            info.mode = _FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(module.content))
    return buffer.getvalue()


def stack_expectations(stack: Stack) -> tuple[str, tuple[str, ...], str | None]:
    """(compatibility date, flags, migration tag) a bundle for `stack` is built against."""
    worker = stack.worker
    return (
        worker.compatibility_date.isoformat(),
        worker.effective_compatibility_flags,
        latest_tag(stack.durable_object_migrations),
    )


def build_manifest(stack: Stack, stack_name: str, bundle: Bundle, tar_bytes: bytes) -> Manifest:
    date, flags, tag = stack_expectations(stack)
    return Manifest(
        format=ARTIFACT_FORMAT,
        stack=stack_name,
        artifact=ARTIFACT_FILE,
        artifact_sha256=hashlib.sha256(tar_bytes).hexdigest(),
        bundle_sha256=bundle.sha256,
        bundle_version=bundle.version,
        main_module=bundle.main_module,
        modules=tuple(
            ModuleEntry(name=m.name, content_type=m.content_type, size=len(m.content), sha256=m.content_sha256)
            for m in bundle.modules
        ),
        sdk_version=WORKERS_RUNTIME_SDK_VERSION,
        compatibility_date=date,
        compatibility_flags=flags,
        migration_tag=tag,
    )


def _current_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it back at once
    os.umask(mask)
    return mask


def _write_atomically(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(data)
        temporary = Path(handle.name)
    # mkstemp creates 0600; a release file is no secret: the mode a plain write would give it.
    temporary.chmod(0o666 & ~_current_umask())
    os.replace(temporary, path)


def write_artifact(stack: Stack, stack_name: str, bundle: Bundle, out_dir: Path) -> Artifact:
    """Write `out_dir/bundle.tar` and its manifest (each atomically; the manifest last)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ArtifactError(f"{out_dir}: not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tar_bytes = artifact_tar(bundle)
        manifest = build_manifest(stack, stack_name, bundle, tar_bytes)
        tar_path = out_dir / ARTIFACT_FILE
        manifest_path = manifest_path_for(tar_path)
        _write_atomically(tar_path, tar_bytes)
        _write_atomically(manifest_path, manifest.to_json_text().encode())
    except OSError as exc:
        raise ArtifactError(f"{out_dir}: cannot write the artifact: {exc.strerror or exc}") from None
    return Artifact(tar_path, manifest_path, manifest, bundle)


# --- reading and verifying ----------------------------------------------------------------------


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{where}: {error['msg']}"


def read_manifest(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: manifest not found (written by `edgestack build` beside the tar)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot read the manifest: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}:{exc.lineno}:{exc.colno}: manifest is not JSON: {exc.msg}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ArtifactError(f"{path}: not an edgestack artifact manifest: {_first_error(exc)}") from None


def _tar_modules(path: Path, data: bytes, manifest: Manifest) -> tuple[Module, ...]:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 (closed by `with` below)
    except tarfile.TarError as exc:
        raise ArtifactError(f"{path}: not a tar archive ({exc})") from None
    modules: list[Module] = []
    with archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        expected = [m.name for m in manifest.modules]
        if names != expected:
            missing = sorted(set(expected) - set(names))
            extra = sorted(set(names) - set(expected))
            detail = (
                f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(extra[:3])}"
            ) if missing or extra else "modules out of order"
            raise ArtifactError(f"{path}: does not hold the manifest's modules ({detail})")
        for member, entry in zip(members, manifest.modules, strict=True):
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is None:
                raise ArtifactError(f"{path}: {member.name} is not a regular file")
            content = handle.read()
            module = Module.of(entry.name, entry.content_type, content)
            if module.content_sha256 != entry.sha256:
                raise ArtifactError(
                    f"{path}: module {entry.name} has sha256 {module.content_sha256}, "
                    f"the manifest says {entry.sha256}"
                )
            modules.append(module)
    return tuple(modules)


def load_artifact(path: Path, *, manifest_path: Path | None = None) -> Artifact:
    """Read and verify an artifact; the `Bundle` it holds, byte for byte as it was built."""
    manifest_file = manifest_path or manifest_path_for(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: artifact not found (build it with `edgestack build STACK -o DIR`)") from None
    except IsADirectoryError:
        raise ArtifactError(f"{path}: is a folder; pass the artifact file ({ARTIFACT_FILE})") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read the artifact: {exc.strerror or exc}") from None
    manifest = read_manifest(manifest_file)
    actual = hashlib.sha256(data).hexdigest()
    if actual != manifest.artifact_sha256:
        raise ArtifactError(
            f"{path}: sha256 {actual} does not match {manifest_file.name} ({manifest.artifact_sha256}): "
            "the file is corrupt or from another build"
        )
    modules = _tar_modules(path, data, manifest)
    digest = bundle_sha256(manifest.main_module, modules)
    if digest != manifest.bundle_sha256:
        raise ArtifactError(
            f"{manifest_file}: bundle_sha256 {manifest.bundle_sha256} does not match the modules ({digest})"
        )
    if not any(m.name == manifest.main_module for m in modules):
        raise ArtifactError(f"{path}: the main module {manifest.main_module} is not in the artifact")
    return Artifact(path, manifest_file, manifest, Bundle(manifest.main_module, modules, digest))


def check_against_stack(artifact: Artifact, stack: Stack, stack_name: str) -> None:
    """Refuse an artifact whose compatibility settings or migration tag differ from `stack`'s."""
    manifest = artifact.manifest
    date, flags, tag = stack_expectations(stack)
    rebuild = f"rebuild with `edgestack build {stack_name}`"
    if manifest.compatibility_date != date:
        raise ArtifactError(
            f"{artifact.path}: built for compatibility_date {manifest.compatibility_date}, "
            f"stack {stack_name} has {date}; {rebuild}"
        )
    if tuple(manifest.compatibility_flags) != flags:
        raise ArtifactError(
            f"{artifact.path}: built for compatibility_flags [{', '.join(manifest.compatibility_flags)}], "
            f"stack {stack_name} has [{', '.join(flags)}]; {rebuild}"
        )
    if manifest.migration_tag != tag:
        raise ArtifactError(
            f"{artifact.path}: the code expects Durable Object migration tag {manifest.migration_tag or 'none'}, "
            f"stack {stack_name} ends at {tag or 'none'}; {rebuild}"
        )


def check_digest(artifact: Artifact, expected_sha256: str, source: str) -> None:
    """Refuse unless the artifact's bundle digest is `expected_sha256` (named by `source`)."""
    if artifact.manifest.bundle_sha256 != expected_sha256:
        raise ArtifactError(
            f"{artifact.path}: bundle sha256 {artifact.manifest.bundle_sha256} differs from {source} "
            f"({expected_sha256})"
        )
