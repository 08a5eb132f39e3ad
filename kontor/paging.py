"""Pagination for list pages: page numbers from the query string, one extra row to peek."""
from dataclasses import dataclass

from kontor.text import whole_number

MAX_PAGE = 999_999   # past this a page number is noise: the first page answers


@dataclass
class Page:
    items: list
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self):
        return self.number > 1


def last_page(count, per_page):
    """The number of the last page of `count` rows, `per_page` to a page (1 when empty)."""
    return max(1, -(-count // per_page))


def paginate(query, number, per_page=50):
    """Page `number` (the query string's text, or None) of `query`, `per_page` rows: a Page
    whose `has_next` says whether a row follows. Text that is no page number gives page 1; a
    number past the end gives the last page (a bookmark of a list that shrank; issue 11
    item 19), counted only then."""
    number = whole_number(number, maximum=MAX_PAGE) or 1
    rows = list(query.limit(per_page + 1).offset((number - 1) * per_page))
    if not rows and number > 1:
        number = min(number, last_page(query.count(), per_page))
        rows = list(query.limit(per_page + 1).offset((number - 1) * per_page))
    return Page(rows[:per_page], number, per_page, len(rows) > per_page)
