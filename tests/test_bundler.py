"""The Worker bundle: module discovery, content types, determinism, size limits, the pinned SDK.

The `test_real_*` tests use the real `workers-runtime-sdk` wheel (downloaded once with pip into
`.edgestack/cache/`, then sha256-verified against infra/plan/sdk_pin.py); the others use fake wheels.
"""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from infra.plan import bundle as bundler
from infra.plan.bundle import (
    DATA_MODULE,
    GZIP_LIMIT_FREE,
    GZIP_LIMIT_PAID,
    JS_MODULE,
    PYTHON_MODULE,
    UNCOMPRESSED_LIMIT,
    Bundle,
    BundleError,
    Module,
    VendoredFile,
    build_bundle,
    bundle_sha256,
    sdk_files,
    sdk_site_dir,
    sdk_wheel,
    vendored_modules,
    worker_source_modules,
)
from infra.plan.sdk_pin import WORKERS_RUNTIME_SDK, WORKERS_RUNTIME_SDK_VERSION, WheelPin

FAKE_SDK = (VendoredFile("workers/__init__.py", b"X = 1\n"),)


def write(root: Path, relative: str, content: bytes | str = "x = 1\n") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.fixture
def worker_src(tmp_path: Path) -> Path:
    root = tmp_path / "worker_src"
    write(root, "entry.py", "from app import core\n")
    write(root, "app/__init__.py", "")
    write(root, "app/core.py")
    write(root, "app/gateway/chat.py")
    # Not modules: tests, caches, hidden folders, non-Python files.
    write(root, "tests/test_core.py")
    write(root, "app/test_helpers.py")
    write(root, "app/core_test.py")
    write(root, "conftest.py")
    write(root, "app/__pycache__/core.cpython-311.pyc", b"\x00")
    write(root, "app/core.pyc", b"\x00")
    write(root, ".venv/lib/x.py")
    write(root, "app/data.json", "{}")
    return root


def test_every_python_module_but_tests_and_caches_sorted_by_posix_path(worker_src):
    modules = worker_source_modules(worker_src)
    assert [m.name for m in modules] == ["app/__init__.py", "app/core.py", "app/gateway/chat.py", "entry.py"]
    assert {m.content_type for m in modules} == {PYTHON_MODULE}
    entry = next(m for m in modules if m.name == "entry.py")
    assert entry.content == b"from app import core\n"
    assert entry.content_sha256 == hashlib.sha256(b"from app import core\n").hexdigest()
    assert entry.content_base64 == "ZnJvbSBhcHAgaW1wb3J0IGNvcmUK"


def test_main_module_is_required(tmp_path):
    write(tmp_path / "src", "app.py")
    with pytest.raises(BundleError, match=r"src: missing the main module entry\.py$"):
        worker_source_modules(tmp_path / "src")


def test_missing_folder_and_reserved_python_modules_are_errors(tmp_path, worker_src):
    with pytest.raises(BundleError, match="worker source folder does not exist"):
        worker_source_modules(tmp_path / "nope")
    write(worker_src, "python_modules/x.py")
    with pytest.raises(BundleError, match="reserved for vendored packages"):
        worker_source_modules(worker_src)


def test_non_utf8_module_is_a_one_line_error(worker_src):
    write(worker_src, "app/latin.py", "caf\xe9 = 1\n".encode("latin-1"))
    with pytest.raises(BundleError) as caught:
        worker_source_modules(worker_src)
    assert "app/latin.py: not valid UTF-8" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_symlink_out_of_the_source_tree_is_rejected(tmp_path, worker_src):
    write(tmp_path, "outside.py")
    (worker_src / "app" / "link.py").symlink_to(tmp_path / "outside.py")
    with pytest.raises(BundleError, match="symlink points outside"):
        worker_source_modules(worker_src)


def test_vendored_files_go_under_python_modules_with_wrangler_content_types():
    files = [
        VendoredFile("workers/__init__.py", b"a"),
        VendoredFile("workers/workflows.js", b"b"),
        VendoredFile("workers/sdk.mjs", b"c"),
        VendoredFile("otherpkg/util.js", b"d"),
        VendoredFile("_loader.pth", b"import _loader\n"),
        VendoredFile("pkg-1.0.dist-info/METADATA", b"e"),
        VendoredFile("pkg/__pycache__/x.cpython-313.pyc", b"f"),
        VendoredFile("pkg/mod.pyc", b"g"),
    ]
    modules = {m.name: m.content_type for m in vendored_modules(files)}
    assert modules == {
        "python_modules/_loader.pth": DATA_MODULE,
        "python_modules/otherpkg/util.js": DATA_MODULE,
        "python_modules/pkg-1.0.dist-info/METADATA": DATA_MODULE,
        "python_modules/workers/__init__.py": DATA_MODULE,
        "python_modules/workers/sdk.mjs": JS_MODULE,
        "python_modules/workers/workflows.js": JS_MODULE,
    }


def test_two_builds_are_byte_identical(worker_src):
    first = build_bundle(worker_src, vendored=FAKE_SDK)
    second = build_bundle(worker_src, vendored=FAKE_SDK)
    assert first == second
    assert [(m.name, m.content_type, m.content_base64, m.content_sha256) for m in first.modules] == [
        (m.name, m.content_type, m.content_base64, m.content_sha256) for m in second.modules
    ]
    assert first.main_module == "entry.py"
    assert [m.name for m in first.modules] == sorted(m.name for m in first.modules)


def test_bundle_sha_changes_with_content_name_or_content_type(worker_src):
    base = build_bundle(worker_src, vendored=FAKE_SDK).sha256
    write(worker_src, "app/core.py", "x = 2\n")
    changed_content = build_bundle(worker_src, vendored=FAKE_SDK).sha256
    (worker_src / "app" / "core.py").rename(worker_src / "app" / "core2.py")
    renamed = build_bundle(worker_src, vendored=FAKE_SDK).sha256
    assert len({base, changed_content, renamed}) == 3
    module = Module.of("a.py", PYTHON_MODULE, b"x")
    assert bundle_sha256("entry.py", [module]) != bundle_sha256(
        "entry.py", [Module.of("a.py", DATA_MODULE, b"x")]
    )


def test_the_whole_bundle_sha_is_independent_of_the_checkout_path(tmp_path, worker_src):
    copy = tmp_path / "elsewhere"
    for module in worker_source_modules(worker_src):
        write(copy, module.name, module.content)
    assert build_bundle(copy, vendored=FAKE_SDK).sha256 == build_bundle(worker_src, vendored=FAKE_SDK).sha256


def bundle_of(content: bytes) -> Bundle:
    modules = (Module.of("entry.py", PYTHON_MODULE, b""), Module.of("blob.bin", DATA_MODULE, content))
    return Bundle("entry.py", modules, bundle_sha256("entry.py", modules))


def test_gzip_limits_free_and_paid():
    noise = random.Random(1).randbytes(GZIP_LIMIT_FREE + 64 * 1024)
    bundle = bundle_of(noise)
    assert bundle.gzip_size > GZIP_LIMIT_FREE
    with pytest.raises(
        BundleError, match=r"gzip, over the 3 MiB limit of the free plan \(worker.paid_plan: false\)$"
    ):
        bundle.check_limits(paid_plan=False)
    bundle.check_limits(paid_plan=True)
    big = bundle_of(random.Random(2).randbytes(GZIP_LIMIT_PAID + 64 * 1024))
    with pytest.raises(BundleError, match=r"gzip, over the 10 MiB limit of the paid plan$"):
        big.check_limits(paid_plan=True)


def test_uncompressed_limit_applies_even_when_it_compresses_well():
    bundle = bundle_of(bytes(UNCOMPRESSED_LIMIT + 1))
    assert bundle.gzip_size < GZIP_LIMIT_FREE
    with pytest.raises(BundleError, match=r"uncompressed, over Cloudflare's 64 MiB limit \(error 10027\)$"):
        bundle.check_limits(paid_plan=True)


# --- the pinned SDK wheel ------------------------------------------------------------------


def fake_wheel(path: Path, members: dict[str, bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def test_cached_wheel_is_verified_against_the_pin(tmp_path):
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    digest = fake_wheel(wheel, {"demo/__init__.py": b"A = 1\n", "demo-1.0.dist-info/RECORD": b""})
    pin = WheelPin("demo", "1.0", wheel.name, digest)
    assert [f.path for f in sdk_files(pin, tmp_path)] == ["demo-1.0.dist-info/RECORD", "demo/__init__.py"]
    wrong = WheelPin("demo", "1.0", wheel.name, "0" * 64)
    with pytest.raises(BundleError, match="does not match the pinned 0000"):
        sdk_wheel(wrong, tmp_path)


def test_download_checks_the_sha_before_caching(tmp_path, monkeypatch):
    """pip is stubbed: it 'downloads' a wheel whose bytes differ from the pin."""
    pin = WheelPin("demo", "2.0", "demo-2.0-py3-none-any.whl", "1" * 64)

    def fake_pip(command, **_kwargs):
        fake_wheel(Path(command[command.index("--dest") + 1]) / pin.filename, {"demo.py": b""})
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(bundler.subprocess, "run", fake_pip)
    with pytest.raises(BundleError, match=r"demo-2\.0-py3-none-any\.whl: sha256 [0-9a-f]{64} does not match"):
        sdk_wheel(pin, tmp_path)
    assert not (tmp_path / pin.filename).exists()


def test_pip_failure_is_one_line(tmp_path, monkeypatch):
    def failing_pip(command, **_kwargs):
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: No matching distribution found for demo==3\n"
        )

    monkeypatch.setattr(bundler.subprocess, "run", failing_pip)
    pin = WheelPin("demo", "3", "demo-3-py3-none-any.whl", "2" * 64)
    with pytest.raises(
        BundleError, match=r"^cannot download demo==3 with pip: ERROR: No matching distribution"
    ):
        sdk_wheel(pin, tmp_path)


def test_unsafe_wheel_member_is_rejected(tmp_path):
    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    digest = fake_wheel(wheel, {"../escape.py": b""})
    with pytest.raises(BundleError, match="unsafe member path"):
        sdk_files(WheelPin("evil", "1.0", wheel.name, digest), tmp_path)


def test_real_sdk_is_pinned_and_vendored_with_its_loader():
    files = {f.path: f.content for f in sdk_files()}
    assert "workers/__init__.py" in files
    assert files["_workers_sdk_patch_loader.pth"].strip() == b"import _workers_sdk_patch_loader"
    metadata = files[f"workers_runtime_sdk-{WORKERS_RUNTIME_SDK_VERSION}.dist-info/METADATA"].decode()
    assert f"Version: {WORKERS_RUNTIME_SDK_VERSION}" in metadata
    assert hashlib.sha256(sdk_wheel().read_bytes()).hexdigest() == WORKERS_RUNTIME_SDK.sha256


def test_real_bundle_vendors_the_sdk_and_fits_the_free_plan():
    bundle = bundler.load_bundle()
    names = {m.name for m in bundle.modules}
    assert "entry.py" in names and "python_modules/workers/__init__.py" in names
    assert all(not n.endswith(".pyc") for n in names)
    assert bundle.module("python_modules/workers/workflows.js").content_type == JS_MODULE
    bundle.check_limits(paid_plan=False)
    assert bundler.load_bundle() is bundle  # memoised while sources are unchanged


def test_real_sdk_site_dir_is_an_importable_layout(tmp_path):
    shutil.copy(sdk_wheel(), tmp_path)  # no second download
    site = sdk_site_dir(cache_dir=tmp_path)
    assert (site / "workers" / "__init__.py").is_file()
    assert sdk_site_dir(cache_dir=tmp_path) == site
