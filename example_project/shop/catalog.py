"""The shop's products: a fixed list is enough for the example (a real shop has a model)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal


@dataclasses.dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal


PRODUCTS = {
    product.sku: product
    for product in (
        Product("beans", "Coffee beans, 1 kg", Decimal("24.50")),
        Product("grinder", "Burr grinder", Decimal("80.00")),
        Product("espresso", "Espresso machine", Decimal("249.00")),
    )
}


def choices() -> list[tuple[str, str]]:
    return [(p.sku, f"{p.name} (${p.price})") for p in PRODUCTS.values()]
