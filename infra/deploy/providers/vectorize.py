"""Vectorize index as a Pulumi dynamic resource, on the official `cloudflare` SDK.

Endpoints (all through the SDK, none raw): `vectorize.indexes.create/get/delete` and
`vectorize.indexes.metadata_index.create/list/delete` (Vectorize API v2).

- create: the index, then its metadata indexes. If a metadata index fails, the index just created is
  deleted again, so nothing is half-created. An existing index with the same name is adopted only
  when `adopt_existing` is set and its dimensions and metric match; otherwise a clear error.
- diff: account, name, dimensions or metric changed -> replacement (listed in `replaces`, so the
  preview says so; deleted before re-created when the name stays the same); metadata indexes changed
  -> in-place update; otherwise no change. `description` is create-only (the API cannot update it)
  and never triggers a replacement by itself.
- read: the live index (drift shows on refresh); an index deleted by hand reads as gone, so the next
  `pulumi up` creates it again.
- update: reconciles metadata indexes against the live list (safe to re-run after a partial failure).
- delete: deletes the index; one already gone is fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from infra.deploy.cloudflare_api import CloudflareApi, CloudflareApiError
from infra.deploy.providers.base import CloudflareProvider, ProviderError
from infra.deploy.providers.vectorize_config import IndexConfig

VECTORIZE_PERMISSION = "'Vectorize Write' (Vectorize Edit)"

# Vectorize error codes seen in API responses: 3000 index not found, 3005 index deleted,
# 3002 duplicate name (see tests/fakes/cloudflare_api.py for the sources).
_NOT_FOUND_CODES = (3000, 3005)
_DUPLICATE_CODES = (3002,)


@dataclass(frozen=True)
class LiveIndex:
    name: str
    dimensions: int
    metric: str
    description: str
    created_on: str | None


def _is_missing(exc: CloudflareApiError) -> bool:
    return exc.status == 404 or exc.has_code(*_NOT_FOUND_CODES) or exc.mentions("vectorize.index.not_found")


def _is_duplicate(exc: CloudflareApiError) -> bool:
    return exc.status == 409 or exc.has_code(*_DUPLICATE_CODES) or exc.mentions("duplicate_name")


class VectorizeIndexProvider(CloudflareProvider):
    # -- Cloudflare calls ------------------------------------------------------------------------

    def _get(self, api: CloudflareApi, cfg: IndexConfig) -> LiveIndex | None:
        try:
            index = api.call(
                f"reading Vectorize index {cfg.index_name}",
                lambda sdk: sdk.vectorize.indexes.get(cfg.index_name, account_id=cfg.account_id),
                permission=VECTORIZE_PERMISSION,
            )
        except CloudflareApiError as exc:
            if _is_missing(exc):
                return None
            raise
        if index is None or index.config is None:
            return None
        return LiveIndex(
            name=index.name or cfg.index_name,
            dimensions=int(index.config.dimensions),
            metric=str(index.config.metric),
            description=index.description or "",
            created_on=index.created_on.isoformat() if index.created_on else None,
        )

    def _live_metadata(self, api: CloudflareApi, cfg: IndexConfig) -> dict[str, str]:
        listing = api.call(
            f"listing metadata indexes of {cfg.index_name}",
            lambda sdk: sdk.vectorize.indexes.metadata_index.list(cfg.index_name, account_id=cfg.account_id),
            permission=VECTORIZE_PERMISSION,
        )
        found = (listing.metadata_indexes or []) if listing else []
        return {m.property_name: str(m.index_type) for m in found if m.property_name}

    def _reconcile_metadata(self, api: CloudflareApi, cfg: IndexConfig) -> None:
        """Make the live metadata indexes equal `cfg.metadata_indexes` (drop first: the limit is 10)."""
        live = self._live_metadata(api, cfg)
        want = dict(cfg.metadata_indexes)
        for prop, kind in sorted(live.items()):
            if want.get(prop) != kind:
                self._drop_metadata_index(api, cfg, prop)
        for prop, kind in sorted(want.items()):
            if live.get(prop) != kind:
                self._add_metadata_index(api, cfg, prop, kind)

    @staticmethod
    def _drop_metadata_index(api: CloudflareApi, cfg: IndexConfig, prop: str) -> None:
        api.call(
            f"deleting metadata index {prop!r} of {cfg.index_name}",
            lambda sdk: sdk.vectorize.indexes.metadata_index.delete(
                cfg.index_name, account_id=cfg.account_id, property_name=prop
            ),
            permission=VECTORIZE_PERMISSION,
        )

    @staticmethod
    def _add_metadata_index(api: CloudflareApi, cfg: IndexConfig, prop: str, kind: str) -> None:
        api.call(
            f"creating metadata index {prop!r} ({kind}) on {cfg.index_name}",
            lambda sdk: sdk.vectorize.indexes.metadata_index.create(
                cfg.index_name,
                account_id=cfg.account_id,
                property_name=prop,
                index_type=kind,  # type: ignore[arg-type]  # validated against METADATA_TYPES
            ),
            permission=VECTORIZE_PERMISSION,
        )

    def _delete(self, api: CloudflareApi, cfg: IndexConfig) -> None:
        try:
            api.call(
                f"deleting Vectorize index {cfg.index_name}",
                lambda sdk: sdk.vectorize.indexes.delete(cfg.index_name, account_id=cfg.account_id),
                permission=VECTORIZE_PERMISSION,
            )
        except CloudflareApiError as exc:
            if not _is_missing(exc):
                raise

    # -- the ResourceProvider interface ------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        cfg = IndexConfig.from_props(news)
        return CheckResult(news, [CheckFailure(prop, reason) for prop, reason in cfg.problems()])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        old, new = IndexConfig.from_props(olds), IndexConfig.from_props(news)
        replaces = [
            prop
            for prop, before, after in zip(
                ("account_id", "index_name", "dimensions", "metric"),
                old.immutable_key,
                new.immutable_key,
                strict=True,
            )
            if before != after
        ]
        metadata_changed = dict(old.metadata_indexes) != dict(new.metadata_indexes)
        same_identity = old.account_id == new.account_id and old.index_name == new.index_name
        return DiffResult(
            changes=bool(replaces) or metadata_changed,
            replaces=replaces,
            stables=[],
            # An index with the same name cannot exist twice: delete the old one first.
            delete_before_replace=bool(replaces) and same_identity,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        cfg = IndexConfig.from_props(props)
        problems = cfg.problems()
        if problems:
            raise ProviderError(f"Vectorize index {cfg.index_name!r}: {problems[0][1]}")
        api = self.api()
        replayed: list[bool] = []
        adopted = False
        try:
            api.call(
                f"creating Vectorize index {cfg.index_name}",
                lambda sdk: sdk.vectorize.indexes.create(
                    account_id=cfg.account_id,
                    name=cfg.index_name,
                    config={"dimensions": cfg.dimensions, "metric": cfg.metric},  # type: ignore[typeddict-item]
                    description=cfg.description,
                ),
                permission=VECTORIZE_PERMISSION,
                on_retry=lambda: replayed.append(True),
            )
        except CloudflareApiError as exc:
            if not _is_duplicate(exc):
                raise
            # `replayed`: an earlier attempt may have created it before its response was lost.
            if not (cfg.adopt_existing or replayed):
                raise ProviderError(
                    f"Vectorize index {cfg.index_name!r} already exists in account {cfg.account_id}: set "
                    "`adopt_existing: true` on its binding to manage it, or give the binding another name"
                ) from None
            self._require_same_shape(api, cfg)
            adopted = cfg.adopt_existing and not replayed
        try:
            self._reconcile_metadata(api, cfg)
        except Exception as exc:
            if adopted:
                raise
            try:
                self._delete(api, cfg)
            except Exception as cleanup:
                raise ProviderError(
                    f"{exc}; the new index {cfg.index_name!r} could not be deleted again ({cleanup}): "
                    "delete it by hand or set `adopt_existing: true`"
                ) from None
            raise ProviderError(f"{exc}; the new index {cfg.index_name!r} was deleted again") from None
        live = self._get(api, cfg)
        return CreateResult(cfg.index_name, self._outs(cfg, live, adopted=adopted))

    def _require_same_shape(self, api: CloudflareApi, cfg: IndexConfig) -> None:
        live = self._get(api, cfg)
        if live is None:
            raise ProviderError(
                f"Vectorize index {cfg.index_name!r} was reported as existing but cannot be read"
            )
        if (live.dimensions, live.metric) != (cfg.dimensions, cfg.metric):
            raise ProviderError(
                f"cannot adopt Vectorize index {cfg.index_name!r}: it has {live.dimensions} dimensions and "
                f"metric {live.metric}, the stack wants {cfg.dimensions} and {cfg.metric}; "
                "give the binding another name or delete the index"
            )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        cfg = IndexConfig.from_props(props)
        live = self._get(self.api(), cfg)
        if live is None:
            return ReadResult("", {})  # gone: Pulumi drops it from state and recreates it on `up`
        metadata = self._live_metadata(self.api(), cfg)
        observed = IndexConfig(
            account_id=cfg.account_id,
            index_name=live.name,
            dimensions=live.dimensions,
            metric=live.metric,
            description=live.description,
            metadata_indexes=metadata,
            adopt_existing=cfg.adopt_existing,
        )
        return ReadResult(id_, self._outs(observed, live, adopted=bool(props.get("adopted"))))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        cfg = IndexConfig.from_props(news)
        api = self.api()
        self._reconcile_metadata(api, cfg)
        return UpdateResult(self._outs(cfg, self._get(api, cfg), adopted=bool(olds.get("adopted"))))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._delete(self.api(), IndexConfig.from_props(props))

    @staticmethod
    def _outs(cfg: IndexConfig, live: LiveIndex | None, *, adopted: bool) -> dict[str, Any]:
        return {
            **cfg.to_props(),
            "created_on": live.created_on if live else None,
            "adopted": adopted,
        }


class VectorizeIndexResource(pulumi.dynamic.Resource, module="edgestack", name="VectorizeIndex"):
    """The dynamic resource (`pulumi-python:dynamic/edgestack:VectorizeIndex`)."""

    index_name: pulumi.Output[str]
    dimensions: pulumi.Output[int]
    metric: pulumi.Output[str]
    metadata_indexes: pulumi.Output[dict[str, str]]
    created_on: pulumi.Output[str | None]
    adopted: pulumi.Output[bool]

    def __init__(self, name: str, config: IndexConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {**config.to_props(), "created_on": None, "adopted": None}
        super().__init__(VectorizeIndexProvider(), name, props, opts)
