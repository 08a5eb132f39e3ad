"""Pagination for list pages: page numbers from the query string, one extra row to peek."""
from dataclasses import dataclass


@dataclass
class Page:
    items: list
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self):
        return self.number > 1


def paginate(query, number, per_page=50):
    try:
        number = max(1, int(number))
    except (TypeError, ValueError):
        number = 1
    rows = list(query.limit(per_page + 1).offset((number - 1) * per_page))
    return Page(rows[:per_page], number, per_page, len(rows) > per_page)
