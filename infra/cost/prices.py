"""The Cloudflare price list (`prices.yaml`, beside this module), typed."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl

from infra.spec.base import Model

PRICES_FILE = Path(__file__).with_name("prices.yaml")
DAYS_PER_MONTH = 30


class Allowance(Model):
    amount: float = Field(ge=0)
    per: Literal["day", "month", "total"]

    @property
    def monthly(self) -> float:
        return self.amount * DAYS_PER_MONTH if self.per == "day" else self.amount

    def __str__(self) -> str:
        return f"{self.amount:,.0f} / {self.per}" if self.per != "total" else f"{self.amount:,.0f}"


class Meter(Model):
    """One billed quantity: `usd` per `per` units past `paid_included` a month on Workers Paid."""

    product: str
    what: str
    usd: float = Field(ge=0)
    per: float = Field(gt=0)
    paid_included: float = Field(ge=0)
    free: Allowance | None
    source: HttpUrl

    def billable(self, usage: float) -> float:
        return max(0.0, usage - self.paid_included)

    def cost(self, usage: float) -> float:
        return self.billable(usage) * self.usd / self.per


class PriceList(Model):
    read_on: str
    workers_paid_base_usd: float = Field(ge=0)
    meters: dict[str, Meter]
    embedding_neurons_per_million_tokens: dict[str, float]
    embedding_neurons_source: HttpUrl


@functools.cache
def price_list() -> PriceList:
    from infra.stackfile.source import read_yaml_file

    return PriceList.model_validate(read_yaml_file(PRICES_FILE).data)
