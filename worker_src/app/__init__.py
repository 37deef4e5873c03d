"""Worker core: plain async modules that take their bindings as arguments.

Nothing here imports `workers`, `js` or `pyodide`: `entry.py` adapts those, so this package
runs under CPython in unit tests and under Pyodide in the local runtime and on Cloudflare.
"""
