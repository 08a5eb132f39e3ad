"""Prices of the portal's products (SPEC section 7; issue 14 items 1-3): one function prices the
product page, the basket and the order, so the three never disagree.

Money is `decimal.Decimal` in the company's currency, never float. A product's price is per
unit and excludes VAT. A line's amounts are rounded to cents half-up (0.005 → 0.01), once per
line: the discount and the quantity are applied to the exact list price first, the VAT to the
rounded net amount. (Seed 001: "registered customers see prices with the discount that applies
to them".)
"""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
MAX_QUANTITY = 9999       # a larger quantity in one line is a typing error, not an order


def cents(amount) -> Decimal:
    """`amount` (Decimal, int or a decimal string; never float) rounded to cents, half-up."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    """One priced line. All amounts in the company's currency, to the cent; `discount` and
    `vat_rate` are percentages (12.5 is 12.5 %)."""
    list_price: Decimal     # per unit, excluding VAT, as the product lists it
    unit_price: Decimal     # per unit after the customer's discount (what the page shows)
    quantity: int
    discount: Decimal
    vat_rate: Decimal
    net: Decimal            # the line excluding VAT
    vat: Decimal
    gross: Decimal          # net + vat


def price_line(list_price, quantity=1, discount=0, vat_rate=0) -> Line:
    """Price `quantity` units (a whole number 1..MAX_QUANTITY) of a product listed at
    `list_price` per unit excluding VAT, for a customer with `discount` percent (0-100), at
    `vat_rate` percent VAT. Returns a Line. Raises ValueError for a quantity outside
    1..MAX_QUANTITY, a discount outside 0-100, a negative price or VAT rate, or a float."""
    for value in (list_price, discount, vat_rate):
        if isinstance(value, float):
            raise ValueError("money is never a float")
    list_price, discount, vat_rate = Decimal(list_price), Decimal(discount), Decimal(vat_rate)
    if isinstance(quantity, bool) or not isinstance(quantity, int) \
            or not 1 <= quantity <= MAX_QUANTITY:
        raise ValueError(f"quantity {quantity!r} is not a whole number from 1 to {MAX_QUANTITY}")
    if not 0 <= discount <= HUNDRED or list_price < 0 or vat_rate < 0:
        raise ValueError("a discount is 0-100 %, a price and a VAT rate are not negative")
    share = (HUNDRED - discount) / HUNDRED
    net = cents(list_price * quantity * share)
    vat = cents(net * vat_rate / HUNDRED)
    return Line(list_price=cents(list_price), unit_price=cents(list_price * share),
                quantity=quantity, discount=discount, vat_rate=vat_rate, net=net, vat=vat,
                gross=net + vat)


@dataclass(frozen=True)
class Totals:
    """The sums of priced lines: net, VAT per rate ({rate: amount}), VAT and gross."""
    net: Decimal
    vat_by_rate: dict
    vat: Decimal
    gross: Decimal


def totals(lines) -> Totals:
    """The sums of `lines` (Line objects): each line was rounded already, so the sums are
    exact and the order's total is the sum of what its lines show."""
    lines = list(lines)
    by_rate = {}
    for line in lines:
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, Decimal("0.00")) + line.vat
    net = sum((line.net for line in lines), Decimal("0.00"))
    vat = sum((line.vat for line in lines), Decimal("0.00"))
    return Totals(net=net, vat_by_rate=by_rate, vat=vat, gross=net + vat)
