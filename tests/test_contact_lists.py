"""The contact list keeps the ordered ids of recent searches in memory
(kontor/contacts/searching.py, ResultIdCache) while the list's generation, raised by database
triggers (migration 0006), stays the same. These tests show that a kept list never outlives a
change, whoever makes it, and that paging a kept list gives exactly what paging in the
database gives."""
import html
import re

import pytest

from kontor import contacts
from kontor.contacts import searching
from models import Contact, db


def add(name, **fields):
    return contacts.create({"name": name, **fields})


def names_on(page):
    return [html.unescape(n)
            for n in re.findall(r'<td[^>]*><a href="/contacts/\d+">([^<]*)</a>', page)]


def listed(client, **params):
    response = client.get("/contacts", query_string=params)
    assert response.status_code == 200
    return names_on(response.get_data(as_text=True))


def walk(client, url):
    """Every name the list shows, following its Next links from `url`."""
    seen = []
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += names_on(page)
        following = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = html.unescape(following.group(1)) if following else None
    return seen


def generation():
    return db.execute_sql("SELECT value FROM list_generation WHERE name = 'contact'").fetchone()[0]


def another_process_writes(sql, params=()):
    """A write that bypasses Kontor's code, as the sync job, a second server process or psql
    would make it: straight SQL, committed."""
    with db.atomic():
        db.execute_sql(sql.replace("?", db.param), list(params))


@pytest.fixture
def many(app):
    """120 contacts whose names contain "Jansen", in three cities, plus two others."""
    for n in range(1, 121):
        add(f"Jansen {n:03}", city=("Utrecht", "Oslo", "Berlin")[n % 3])
    add("Bakker", city="Utrecht")
    add("Müller", city="Köln")


def test_a_search_asked_again_sees_changes_made_by_another_process(admin_client, many):
    assert listed(admin_client, q="bakker") == ["Bakker"]
    another_process_writes(
        "INSERT INTO contact (customer_number, kind, name, name_norm, sort_name, org_number, "
        "vat_number, email, phone, mobile, fax, website, street, postcode, city, country, "
        "visit_street, visit_postcode, visit_city, visit_country, discount, active, "
        "search_text, version, created_at, updated_at) VALUES (?, 'company', ?, '', ?, '', '', "
        "'', '', '', '', '', '', '', '', '', '', '', '', '', 0, ?, ?, 1, ?, ?)",
        [20001, "Bakkerij Zoet", "bakkerij zoet", True, "bakkerij zoet 20001",
         "2026-01-01 00:00:00", "2026-01-01 00:00:00"])
    assert listed(admin_client, q="bakker") == ["Bakker", "Bakkerij Zoet"]
    another_process_writes("UPDATE contact SET active = ? WHERE name = ?", [False, "Bakker"])
    assert listed(admin_client, q="bakker") == ["Bakkerij Zoet"]
    another_process_writes("DELETE FROM contact WHERE name = ?", ["Bakkerij Zoet"])
    assert listed(admin_client, q="bakker") == []


def test_the_generation_moves_only_when_matching_or_order_can_change(app, many):
    bakker = Contact.get(Contact.name == "Bakker")
    before = generation()
    another_process_writes("UPDATE contact SET fax = ?, website = ? WHERE id = ?",
                           ["030 1", "https://bakker.example", bakker.id])
    assert generation() == before            # not shown in lists, not searched
    another_process_writes("UPDATE contact SET city = ? WHERE id = ?", ["Zwolle", bakker.id])
    assert generation() > before
    before = generation()
    contacts.update(bakker.id, {"name": "Bakker & Zn"}, bakker.version)
    assert generation() > before
    before = generation()
    with db.atomic() as transaction:         # a change that is rolled back moves nothing
        add("Visser")
        transaction.rollback()
    assert generation() == before


@pytest.mark.parametrize("ahead", [5000, 1])     # the whole list kept, or just what is asked
@pytest.mark.parametrize("params", [
    {"q": "jansen"}, {"q": "jansen", "sort": "-city"}, {"sort": "number"}, {"sort": "-name"},
])
def test_paging_a_kept_list_gives_what_the_database_gives(admin_client, many, params, ahead,
                                                           monkeypatch):
    monkeypatch.setattr(searching, "COUNT_LIMIT", 60)     # so that a list may be cut short
    monkeypatch.setattr(contacts.ResultIdCache, "AHEAD", ahead)
    url = "/contacts?" + "&".join(f"{k}={v}" for k, v in params.items())
    kept = walk(admin_client, url)
    pages = {page: listed(admin_client, **params, page=page) for page in (2, 3, 1)}
    by_number = pages[1] + pages[2] + pages[3]
    assert walk(admin_client, url + "&page=2") == kept[50:]    # Next from a bookmarked page
    monkeypatch.setattr(contacts.ResultIdCache, "MAX_IDS", 0)   # nothing may be kept now
    contacts.result_ids.clear()
    in_database = walk(admin_client, url)
    assert kept == by_number == in_database
    assert len(kept) == (120 if "q" in params else 122)
    assert len(set(kept)) == len(kept)


def test_a_next_link_after_a_change_continues_from_its_row(admin_client, many):
    first = admin_client.get("/contacts?q=jansen").get_data(as_text=True)
    next_url = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', first).group(1))
    add("Jansen 000")                  # sorts first: every page number now shifts by one
    second = names_on(admin_client.get(next_url).get_data(as_text=True))
    assert second == [f"Jansen {n:03}" for n in range(51, 101)]   # no row shown twice
    assert listed(admin_client, q="jansen")[0] == "Jansen 000"


def test_a_bookmarked_page_of_a_kept_search_is_that_page(admin_client, many):
    assert listed(admin_client, q="jansen", page=3) == [f"Jansen {n:03}" for n in range(101, 121)]
    # a page past the end is the last page (issue 11 item 19)
    assert listed(admin_client, q="jansen", page=9) == [f"Jansen {n:03}" for n in range(101, 121)]
    page = admin_client.get("/contacts?q=jansen&page=2").get_data(as_text=True)
    assert "120 contacts" in page and "Page 2 of 3" in page


def test_kept_lists_are_bounded(app, many, monkeypatch):
    monkeypatch.setattr(contacts.ResultIdCache, "MAX_LISTS", 3)
    contacts.result_ids.clear()
    for word in ("jansen", "utrecht", "oslo", "berlin", "bakker"):
        contacts.search(word)
    assert len(contacts.result_ids._lists) == 3
    add("Jansen 121")
    contacts.search("jansen")                # a new generation drops every older list
    assert len(contacts.result_ids._lists) == 1


def links(page, rel):
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


@pytest.mark.parametrize("sort, renamed_to", [("name", {"name": "Zz Moved Away"}),
                                              ("-name", {"name": "Aa Moved Away"}),
                                              ("city", {"city": "Zzyzx"})])
def test_next_starts_where_the_page_ended_though_its_last_row_moved(admin_client, sort,
                                                                     renamed_to):
    """Issue 10 item 4: 60 contacts, page 1; someone changes the last row of page 1 so that
    it sorts at the end; Next shows the rows that followed it, not "No contacts found"."""
    for n in range(1, 61):
        add(f"Contact {n:02}", city="Utrecht")
    first = admin_client.get(f"/contacts?sort={sort}").get_data(as_text=True)
    page_one = names_on(first)
    assert len(page_one) == 50
    last = Contact.get(Contact.name == page_one[-1])
    contacts.update(last.id, renamed_to, last.version)
    second = admin_client.get(links(first, "next")).get_data(as_text=True)
    in_order = [f"Contact {n:02}" for n in range(1, 61)]
    if sort == "-name":
        in_order.reverse()
    assert page_one == in_order[:50]
    assert names_on(second)[:10] == in_order[50:]     # and then the moved row, at the end
    assert "No contacts found" not in second


def test_previous_ends_where_the_page_began_though_its_first_row_moved(admin_client):
    for n in range(1, 121):
        add(f"Contact {n:03}")
    first = admin_client.get("/contacts").get_data(as_text=True)
    second = admin_client.get(links(first, "next")).get_data(as_text=True)
    third = admin_client.get(links(second, "next")).get_data(as_text=True)
    assert names_on(third)[0] == "Contact 101"
    moved = Contact.get(Contact.name == "Contact 101")
    contacts.update(moved.id, {"name": "Aaa First Now"}, moved.version)
    back = admin_client.get(links(third, "prev")).get_data(as_text=True)
    assert names_on(back) == [f"Contact {n:03}" for n in range(51, 101)]


def test_contacts_without_a_city_sort_after_every_city(admin_client):
    """Issue 11 item 19: sorted by city, the contacts without one came first."""
    add("Zonder Plaats BV")
    add("Ærø Shipping", city="Ærøskøbing")
    add("Amsterdam BV", city="amsterdam")
    add("Zwolle BV", city="Zwolle")
    # "Ærøskøbing" sorts as "aeroskobing", before "amsterdam"
    assert listed(admin_client, sort="city") == ["Ærø Shipping", "Amsterdam BV", "Zwolle BV",
                                                 "Zonder Plaats BV"]
    assert listed(admin_client, sort="-city") == ["Zonder Plaats BV", "Zwolle BV",
                                                  "Amsterdam BV", "Ærø Shipping"]


@pytest.mark.parametrize("search", ["", "contact"])
def test_paging_by_city_crosses_into_the_contacts_without_one(admin_client, search):
    for n in range(1, 56):
        add(f"Contact {n:02}", city=f"City {n:02}")
    for n in range(56, 61):
        add(f"Contact {n:02}")
    expected = [f"Contact {n:02}" for n in range(1, 61)]
    assert walk(admin_client, f"/contacts?sort=city&q={search}") == expected
    assert listed(admin_client, sort="city", page="2", q=search) == expected[50:]


@pytest.mark.parametrize("search", ["", "contact"])
def test_a_page_number_past_the_end_shows_the_last_page(admin_client, search):
    """Issue 11 item 19: ?page=9 of a two-page list said "No contacts found"."""
    for n in range(1, 61):
        add(f"Contact {n:02}")
    assert listed(admin_client, page="9", q=search) == [f"Contact {n:02}" for n in range(51, 61)]
    assert listed(admin_client, page="999999", q="nobody") == []
