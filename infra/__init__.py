"""edgestack: stack files to Cloudflare edge stacks.

Pulumi stores each dynamic provider in the stack state pickled by reference (module path and class
name), so state written before the stage layout names `infra.providers.*`. Those paths resolve to the
modules' new homes here, so `pulumi refresh`, deletes and reads of existing resources keep working.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

# old module path (in existing Pulumi state) -> where it lives now
MOVED_MODULES = {
    "infra.providers": "infra.deploy.providers",
    "infra.providers.base": "infra.deploy.providers.base",
    "infra.providers.vectorize": "infra.deploy.providers.vectorize",
    "infra.providers.d1_migrations": "infra.deploy.providers.d1_migrations",
}


class _MovedModuleLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the target module is already executed


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        moved = MOVED_MODULES.get(fullname)
        return importlib.util.spec_from_loader(fullname, _MovedModuleLoader(moved)) if moved else None


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())  # before the path finder, which would load a second copy
