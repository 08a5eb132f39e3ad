"""Prices (issue 14 items 1-2; kontor/pricing.py): exact decimal money, half-up per line, one
function for the page, the basket and the order; and money in each reader's format."""
from decimal import Decimal

import pytest
from flask_babel import force_locale

from blueprints.filters import money
from kontor.pricing import MAX_QUANTITY, price_line, totals

D = Decimal

# list price, quantity, discount %, VAT %  ->  unit price, net, VAT, gross (worked by hand)
CASES = [
    ("10.00", 1, "0", "21", "10.00", "10.00", "2.10", "12.10"),
    ("0.50", 1, "0", "9", "0.50", "0.50", "0.05", "0.55"),          # VAT 0.045: half-up
    ("1.50", 1, "0", "19", "1.50", "1.50", "0.29", "1.79"),         # VAT 0.285: half-up
    ("3.30", 1, "0", "15", "3.30", "3.30", "0.50", "3.80"),         # VAT 0.495
    ("0.04", 1, "12.5", "0", "0.04", "0.04", "0.00", "0.04"),       # 0.035 -> 0.04
    ("0.30", 1, "12.5", "21", "0.26", "0.26", "0.05", "0.31"),      # 0.2625
    ("19.99", 999, "12.5", "25", "17.49", "17473.76", "4368.44", "21842.20"),
    ("0.01", 999, "0", "25", "0.01", "9.99", "2.50", "12.49"),      # VAT 2.4975
    ("249.00", 999, "100", "21", "0.00", "0.00", "0.00", "0.00"),
    ("2.25", 1, "0", "9", "2.25", "2.25", "0.20", "2.45"),          # VAT 0.2025
]


@pytest.mark.parametrize(("price", "quantity", "discount", "vat", "unit", "net", "tax",
                          "gross"), CASES)
def test_a_line_is_priced_half_up_to_the_cent(price, quantity, discount, vat, unit, net, tax,
                                              gross):
    line = price_line(D(price), quantity, D(discount), D(vat))
    assert (line.unit_price, line.net, line.vat, line.gross) == (D(unit), D(net), D(tax),
                                                                 D(gross))
    assert all(isinstance(v, Decimal) for v in (line.unit_price, line.net, line.vat, line.gross))


def test_the_line_is_rounded_once_not_per_unit():
    # 3 × 0.335 = 1.005 → 1.01; three units rounded first would be 3 × 0.34 = 1.02
    assert price_line(D("0.67"), 3, D("50")).net == D("1.01")


def test_totals_are_the_sums_of_what_the_lines_show():
    lines = [price_line(D("1.50"), 1, 0, D("19")), price_line(D("10.00"), 2, 0, D("21")),
             price_line(D("0.50"), 1, 0, D("19"))]
    result = totals(lines)
    assert result.net == D("22.00")
    assert result.vat_by_rate == {D("19"): D("0.39"), D("21"): D("4.20")}
    assert result.gross == D("26.59") == sum(line.gross for line in lines)


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, 1.5, "2", True, None])
def test_a_quantity_that_is_no_positive_whole_number_is_refused(quantity):
    with pytest.raises(ValueError):
        price_line(D("1.00"), quantity)


@pytest.mark.parametrize(("price", "discount", "vat"), [
    (1.5, 0, 0), ("1.00", 100.5, 0), ("1.00", -1, 0), ("-1.00", 0, 0), ("1.00", 0, -21)])
def test_floats_and_impossible_values_are_refused(price, discount, vat):
    with pytest.raises(ValueError):
        price_line(D(price) if isinstance(price, str) else price, 1,
                   D(str(discount)) if not isinstance(discount, float) else discount, D(vat))


@pytest.mark.parametrize(("locale", "currency", "shown"), [
    ("nl", "EUR", "1.234,50"), ("de", "EUR", "1.234,50"), ("nb", "NOK", "1\xa0234,50"),
    ("en", "GBP", "1,234.50"), ("en_NL", "EUR", "1.234,50")])
def test_money_is_written_as_the_readers_locale_writes_it(app, locale, currency, shown):
    with app.test_request_context(), force_locale(locale):
        written = money(D("1234.5"), currency)
    assert shown in written.replace("\u202f", "\xa0")
    symbol = {"EUR": "€", "NOK": "kr", "GBP": "£"}[currency]
    assert symbol in written
