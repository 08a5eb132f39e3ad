"""Enter presses the primary action (issue 11 item 19): a form's default button, the one Enter
in a field presses, is its first submit button in the page. In the "Create new" wizard that was
"Back", so Enter in the subject went back a step. Every form with more than one submit button
must have its primary button first; this walks every page a superuser can open, the wizard's
steps with a file listed among them, and checks each such form."""
import io
from html.parser import HTMLParser

from flask import url_for
from helpers import assert_walked, url_values
from support_helpers import PNG, choose_customer, details, open_case

SUBMIT_INPUTS = {"submit", "image"}
# the inputs in which Enter submits the form (HTML's implicit submission)
ENTER_SUBMITS = {"text", "search", "email", "password", "tel", "number", "url", "date",
                 "datetime-local", "month", "week", "time"}


class SubmitButtons(HTMLParser):
    """The submit buttons of each form of a page, in page order: {form key: [(label, class)]},
    and the forms with a field in which Enter submits (`typed_in`). A button's or field's form
    is its `form` attribute, else the form around it."""

    def __init__(self):
        super().__init__()
        self.forms, self.open_form, self.button, self.count = {}, None, None, 0
        self.typed_in = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.count += 1
            self.open_form = attrs.get("id") or f"form-{self.count}"
            self.forms.setdefault(self.open_form, [])
        elif tag == "button" and attrs.get("type", "submit") == "submit":
            self.button = [attrs.get("form") or self.open_form, attrs.get("class") or "", ""]
        elif tag == "input" and attrs.get("type") in SUBMIT_INPUTS:
            self.add(attrs.get("form") or self.open_form, attrs.get("value") or "",
                     attrs.get("class") or "")
        elif tag == "input" and attrs.get("type", "text") in ENTER_SUBMITS:
            self.typed_in.add(attrs.get("form") or self.open_form)

    def handle_data(self, data):
        if self.button is not None:
            self.button[2] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.open_form = None
        elif tag == "button" and self.button is not None:
            owner, classes, label = self.button
            self.add(owner, " ".join(label.split()), classes)
            self.button = None

    def add(self, owner, label, classes):
        self.forms.setdefault(owner, []).append((label, classes))


def forms_with_a_wrong_default(html):
    """The forms of `html` with several submit buttons whose first is not the primary one
    (class button-primary), as lists of their buttons' labels. A form of only secondary
    buttons (Remove, Clear list) and no field to press Enter in has no default to get wrong."""
    parser = SubmitButtons()
    parser.feed(html)

    def primary(classes):
        return "button-primary" in classes.split()
    return [[label for label, _ in buttons] for key, buttons in parser.forms.items()
            if len(buttons) > 1 and not primary(buttons[0][1])
            and (key in parser.typed_in or any(primary(classes) for _, classes in buttons))]


def test_in_every_wizard_step_the_first_submit_button_goes_forward(admin_client, desk):
    choose_customer(admin_client, desk.customer)
    steps = {"details": admin_client.get("/support/new/details")}
    response = admin_client.form("/support/new/details", details(desk.category, desk.type,
                                                                 needs_files="y"))
    assert response.headers["Location"].endswith("/support/new/files")
    admin_client.form("/support/new/files", {"files": [(io.BytesIO(PNG), "screen.png")],
                                             "upload": "Upload"},
                      content_type="multipart/form-data")
    steps["files"] = admin_client.get("/support/new/files")
    assert "screen.png" in steps["files"].get_data(as_text=True)
    steps["summary"] = admin_client.get("/support/new/summary")
    for step, page in steps.items():
        assert page.status_code == 200, step
        assert forms_with_a_wrong_default(page.get_data(as_text=True)) == [], step
        parser = SubmitButtons()
        parser.feed(page.get_data(as_text=True))
        firsts = [buttons[0][0] for buttons in parser.forms.values() if len(buttons) > 1]
        assert firsts[0] == ("Send" if step == "summary" else "Next"), step   # the step's form


def test_the_files_step_removes_and_clears_without_uploading_the_chosen_files(admin_client,
                                                                              desk):
    """Remove and Clear list belong to a form of their own now: they still work."""
    choose_customer(admin_client, desk.customer)
    admin_client.form("/support/new/details", details(desk.category, desk.type, needs_files="y"))
    admin_client.form("/support/new/files", {"files": [(io.BytesIO(PNG), "one.png"),
                                                       (io.BytesIO(PNG), "two.png")],
                                             "upload": "Upload"},
                      content_type="multipart/form-data")
    assert admin_client.form("/support/new/files", {"remove": "0"}).status_code == 302
    page = admin_client.get("/support/new/files").get_data(as_text=True)
    assert "two.png" in page and "one.png" not in page
    assert admin_client.form("/support/new/files", {"clear": "Clear list"}).status_code == 302
    assert "No files added yet." in admin_client.get("/support/new/files").get_data(as_text=True)


def test_every_page_with_several_submit_buttons_in_a_form_has_the_primary_first(
        app, admin_client, desk):
    """Every GET page of the staff app and the portal, with real ids where a page needs one."""
    number = open_case(admin_client, desk.customer, desk.category, desk.type)
    real = {"contact_id": desk.customer.id, "number": number, "kind": "categories",
            "item_id": desk.category.id, "employee_id": desk.superuser.employee_id}
    with app.test_request_context():
        urls = {rule.endpoint: url_for(rule.endpoint, **{**url_values(rule), **{
            name: real[name] for name in rule.arguments if name in real}})
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint != "static"}
    wrong, walked = {}, []
    for endpoint, url in sorted(urls.items()):
        if endpoint == "auth.logout":
            continue
        response = admin_client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            walked.append(endpoint)
            found = forms_with_a_wrong_default(response.get_data(as_text=True))
            if found:
                wrong[url] = found
    assert_walked(walked, 20, ["support.index", "support.show", "support.settings",
                               "admin.company", "contacts.show"])
    assert wrong == {}
