"""How gateway, rag and agents parse their section of `EDGESTACK_CONFIG`: a strict `Reader` and a
once-per-isolate `SectionCache`. Imported by the section parsers on first use, not at start-up
(the root of the config is parsed in `app.config`, with `config_object` alone)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from .config import ConfigError, RuntimeConfig, config_object

T = TypeVar("T")


class Reader:
    """Typed access to one JSON object of the config whose keys are exactly `keys`, with the key
    path for error messages."""

    def __init__(self, value: Any, path: str, keys: tuple[str, ...] | None = None) -> None:
        self.value = config_object(value, path, keys)
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def _get(self, key: str) -> Any:
        if key not in self.value:
            raise ConfigError(f"{self.at(key)}: missing")
        return self.value[key]

    def is_null(self, key: str) -> bool:
        return self._get(key) is None

    def string(self, key: str, choices: tuple[str, ...] = ()) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.at(key)}: expected a non-empty string")
        if choices and value not in choices:
            raise ConfigError(f"{self.at(key)}: must be one of {', '.join(choices)}; got {value!r}")
        return value

    def optional_string(self, key: str) -> str | None:
        return None if self.is_null(key) else self.string(key)

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.at(key)}: expected true or false")
        return value

    def integer(self, key: str, minimum: int = 0) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.at(key)}: expected an integer")
        if value < minimum:
            raise ConfigError(f"{self.at(key)}: must be >= {minimum}")
        return value

    def optional_integer(self, key: str, minimum: int = 0) -> int | None:
        return None if self.is_null(key) else self.integer(key, minimum)

    def number(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{self.at(key)}: expected a number >= 0")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        return None if self.is_null(key) else self.number(key)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.at(key)}: expected a list of strings")
        return tuple(value)

    def child(self, key: str, keys: tuple[str, ...]) -> Reader:
        return Reader(self._get(key), self.at(key), keys)

    def items(self, key: str) -> list[tuple[str, Any]]:
        value = self._get(key)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.at(key)}: expected an object")
        return list(value.items())


class SectionCache(Generic[T]):
    """Parses one section of `EDGESTACK_CONFIG` (`gateway`, `rag`, `agents`) once per isolate.

    The fast path is identity: the isolate keeps one parsed `EDGESTACK_CONFIG` (`ParsedOnce`). If
    it hands in a fresh (equal) section, the canonical JSON text is compared instead of re-parsing.
    A `ConfigError` (of the section or of the root) is remembered and raised again until the section
    changes.
    """

    def __init__(self, name: str, parse: Callable[[Any], T]) -> None:
        self._name, self._parse = name, parse
        self._source: object = None
        self._text: str | None = None
        self._parsed: T | None = None
        self._error: ConfigError | None = None

    def get(self, config: RuntimeConfig) -> T | None:
        """The parsed section, None when the stack has none."""
        if config.error is not None:
            raise ConfigError(config.error)
        section = config.sections[self._name]
        if section is None:
            return None
        if section is not self._source:
            text = json.dumps(section, sort_keys=True, separators=(",", ":"), default=str)
            if text != self._text:
                try:
                    self._parsed, self._error = self._parse(section), None
                except ConfigError as error:
                    self._parsed, self._error = None, error
                self._text = text
            self._source = section
        if self._error is not None:
            raise self._error
        return self._parsed
