"""Host glue that runs inside Pyodide next to the Worker (never part of the Worker's bundle).

It plays the part of workerd's Python entrypoint helper: imports the main module, finds the
entrypoint and Durable Object classes, and calls their handlers with the argument conversions
workerd applies (`python_from_rpc` on the way in, `python_to_rpc` on the way out).
"""

import asyncio
import importlib
import inspect
import sys
import time
import traceback
from types import FunctionType

import js
from pyodide.code import relaxed_call
from pyodide.ffi import to_js


def _shown_path(filename, bundle_root, source_label):
    if filename and filename.startswith(bundle_root + "/"):
        return source_label + filename[len(bundle_root) + 1 :]
    return filename or "<unknown>"


def describe_import_error(exc, module_name, bundle_root, source_label):
    """One line naming the Worker module and line where importing the main module failed."""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{_shown_path(exc.filename, bundle_root, source_label)}:{exc.lineno or 0}"
        return f"{where}: {type(exc).__name__}: {exc.msg}"
    frames = traceback.extract_tb(exc.__traceback__)
    in_bundle = [f for f in frames if f.filename.startswith(bundle_root + "/")]
    frame = in_bundle[-1] if in_bundle else (frames[-1] if frames else None)
    where = f"{_shown_path(frame.filename, bundle_root, source_label)}:{frame.lineno}" if frame else module_name
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{where}: {type(exc).__name__}: {message}".rstrip(": ")


def import_main(module_name, bundle_root, source_label):
    """[main module, SDK import ms, main module import ms], or a one-line error string.

    The SDK (`workers`) is imported first and timed on its own, so the main module's time is
    the Worker's own import cost.
    """
    try:
        started = time.perf_counter()
        importlib.import_module("workers")
        sdk_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        module = importlib.import_module(module_name)
        main_ms = (time.perf_counter() - started) * 1000
    except BaseException as exc:  # noqa: BLE001 - any import failure is reported, not raised
        return describe_import_error(exc, module_name, bundle_root, source_label)
    return to_js([module, sdk_ms, main_ms])


def _public_methods(cls):
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        for base in cls.__mro__:
            if name in base.__dict__:
                if isinstance(base.__dict__[name], FunctionType):
                    names.append(name)
                break
    return sorted(names)


def find_class(module, class_name, base_name):
    """(class, public method names) when `module.class_name` subclasses `workers.<base_name>`."""
    import workers

    base = getattr(workers, base_name)
    value = getattr(module, class_name, None)
    if not (inspect.isclass(value) and issubclass(value, base) and value is not base):
        return None
    return to_js([value, to_js(_public_methods(value))])


async def call_handler(relaxed, instance, name, *args):
    """A handler call with workerd's conversions: JS args to Python, the result back to JS."""
    from workers import python_from_rpc, python_to_rpc

    method = getattr(instance, name)
    py_args = [python_from_rpc(arg) for arg in args]
    result = relaxed_call(method, *py_args) if relaxed else method(*py_args)
    if inspect.isawaitable(result):
        result = await result
    return python_to_rpc(result)


async def call_raw(instance, name, *args):
    """A handler called with raw JS arguments, ignoring extras (workerd's alarm and queue calls)."""
    result = relaxed_call(getattr(instance, name), *args)
    if inspect.isawaitable(result):
        result = await result
    return result


def setup_paths(paths):
    for entry in reversed(list(paths)):
        if entry not in sys.path:
            sys.path.insert(0, entry)


def last_error_line(message):
    """The final `Type: message` line of a Python traceback string."""
    lines = [line for line in str(message).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "error"


# ---------------------------------------------------------------- the Worker's own CPU
# After its import, every piece of Python the Worker runs runs inside an asyncio handle: Pyodide's
# event loop schedules each step of each task with `setTimeout`. The CPU spent inside handles is the
# Worker's own (its Python, and the Pyodide/JS glue it calls synchronously, binding calls included),
# apart from the host's HTTP server and the storage processes, which run between handles. It is read
# from `process.cpuUsage()` (CPU, not wall time, so a busy machine's descheduling does not count) around
# each handle. The host reports the totals in `GET /__edgestack/status` (`workerCpu`); benchmarks
# divide their growth over sequential requests by the request count.
_WORKER_CPU = [0.0, 0.0, 0]  # CPU microseconds, wall seconds, handles
_handle_run = asyncio.Handle._run
_cpu_micros = js.edgestackCpuMicros  # set by python-runtime.mjs: process.cpuUsage(), user + system


def _timed_handle_run(self):
    cpu, wall = _cpu_micros(), time.perf_counter()
    try:
        return _handle_run(self)
    finally:
        _WORKER_CPU[0] += _cpu_micros() - cpu
        _WORKER_CPU[1] += time.perf_counter() - wall
        _WORKER_CPU[2] += 1


asyncio.Handle._run = _timed_handle_run


def _meter_cost_us(calls=500):
    """What one reading costs: about one reading per handle falls inside the measured window."""
    started = time.perf_counter()
    for _ in range(calls):
        _cpu_micros()
    return (time.perf_counter() - started) * 1e6 / calls


_METER_US = _meter_cost_us()


def worker_cpu():
    """[CPU ms, wall ms spent running the Worker's asyncio handles (the meter's own cost taken out),
    handles run, the meter's cost per handle in µs] since the host started."""
    cpu_us = max(0.0, _WORKER_CPU[0] - _WORKER_CPU[2] * _METER_US)
    wall_ms = max(0.0, _WORKER_CPU[1] * 1000 - _WORKER_CPU[2] * _METER_US / 1000)
    return to_js([cpu_us / 1000, wall_ms, _WORKER_CPU[2], _METER_US])


_ = js  # keep `js` importable for host snippets
