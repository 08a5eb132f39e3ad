"""One folding for every search (issue 11 item 8): the condition that stored, folded search
columns contain the folded words of a search box, the same on SQLite and PostgreSQL.

What is folded, and how, is `kontor.text.fold` alone: each searchable record keeps its folded
text in a column of its own (`Contact.search_text`, `Employee.search_text`,
`SupportCase.search_text`), written by every save, and the words typed are folded by
`kontor.text.search_terms`. The database only compares folded text with folded text, so no
LOWER() in SQL (SQLite's folds ASCII only) decides what is found. The contact list has an index
of its own for this (kontor/contacts/searching.py); the smaller lists use this module.
"""
import re
from functools import reduce
from operator import and_, or_

from peewee import OP, Expression, fn

from models import is_sqlite


def like_pattern(term):
    """`%term%` for LIKE with `\\`, `%` and `_` as plain characters (PostgreSQL's default
    escape character is the backslash)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"


def contains(column, term, pattern=None):
    """The condition that the folded text of `column` (a Peewee field or expression) contains
    the folded `term` as a plain substring: `%` and `_` are ordinary characters. `pattern`,
    when given, is `like_pattern(term)` made already: with both as a `models.Prepared`
    query's arguments, one SQL serves every term (SQLite compares with `term`, PostgreSQL
    with `pattern`)."""
    if is_sqlite():
        return fn.instr(column, term) > 0
    return Expression(column, OP.LIKE, like_pattern(term) if pattern is None else pattern)


def contains_all(columns, terms):
    """The condition that every one of `terms` (from kontor.text.search_terms) is in at least
    one of `columns` (folded search columns), or None when there are no terms."""
    if not terms:
        return None
    return reduce(and_, [reduce(or_, [contains(column, term) for column in columns])
                         for term in terms])
