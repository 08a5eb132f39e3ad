"""Forms and form pieces shared by several blueprints, and the forms kept over a sign-out or a
language switch (issue 10 items 5 and 7; the rules are in kontor/kept_forms.py)."""
import functools
import hmac
import re
from urllib.parse import urlsplit

import wtforms.widgets
from babel.support import Translations as BabelTranslations
from flask import current_app, flash, g, request, session
from flask_babel import format_decimal, get_locale, lazy_ngettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.form import _Auto
from itsdangerous import BadData, URLSafeTimedSerializer
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from wtforms import (
    DecimalField,
    EmailField,
    HiddenField,
    MultipleFileField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms import FileField as PlainFileField
from wtforms.csrf.core import CSRFTokenField
from wtforms.fields.core import UnboundField
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput, Select, TextInput
from wtforms.widgets.core import clean_key

from blueprints.common import form_page, safe_next
from kontor import config, form_keys, kept_forms, languages, passwords
from kontor.access import signed_in_staff
from kontor.countries import country_choices, options_html
from kontor.server_session import ENDED_SESSION, serializer
from kontor.text import one_line, unix_lines, whole_number

PASSWORD_MESSAGES = {
    # counts take the plural form their number needs (issue 11 item 9)
    "too_short": lazy_ngettext("Use at least %(num)s character.",
                               "Use at least %(num)s characters.", passwords.MIN_LENGTH),
    "too_long": lazy_ngettext("Use at most %(num)s character.",
                              "Use at most %(num)s characters.", passwords.MAX_LENGTH),
    "common": _l("This password is one of the most common ones; choose another."),
    "context": lazy_ngettext(
        "Without your name, your e-mail address, the company name and the word “Kontor”, "
        "fewer than %(num)s character is left. Add words of your own.",
        "Without your name, your e-mail address, the company name and the word “Kontor”, "
        "fewer than %(num)s characters are left. Add words of your own.",
        passwords.MIN_OWN_LENGTH),
    "context_company": lazy_ngettext(
        "Without the company name, fewer than %(num)s character is left. "
        "Add words of your own.",
        "Without the company name, fewer than %(num)s characters are left. "
        "Add words of your own.", passwords.MIN_OWN_LENGTH),
    "context_name": lazy_ngettext(
        "Without your name, fewer than %(num)s character is left. Add words of your own.",
        "Without your name, fewer than %(num)s characters are left. Add words of your own.",
        passwords.MIN_OWN_LENGTH),
    "context_email": lazy_ngettext(
        "Without your e-mail address, fewer than %(num)s character is left. "
        "Add words of your own.",
        "Without your e-mail address, fewer than %(num)s characters are left. "
        "Add words of your own.", passwords.MIN_OWN_LENGTH),
    "context_kontor": lazy_ngettext(
        "Without the word “Kontor”, fewer than %(num)s character is left. "
        "Add words of your own.",
        "Without the word “Kontor”, fewer than %(num)s characters are left. "
        "Add words of your own.", passwords.MIN_OWN_LENGTH),
    "sequence": _l("It is a run or a repeat of characters, like “123456” or “aaaa”; "
                   "choose something less predictable."),
    "keyboard": _l("It follows a row of keys on the keyboard, like “qwerty”; "
                   "choose something less predictable."),
    "date": _l("It leans on a year or a date, which are easy to guess; add words of your own."),
    "names": _l("It leans on a common first name or surname; add a few unrelated words."),
    "words": _l("It leans on one common word; add a few unrelated words."),
    "guessable": _l("This password is easy to guess; add a few unrelated words."),
}

PASSWORD_HINT = _l("12 to 128 characters. A few unrelated words make a good password.")

# why an employee cannot be invited (kontor.invitations.NotInvitable.reason)
NOT_INVITABLE = {
    "unknown": _l("Choose an employee from the list."),
    "inactive": _l("This employee is no longer active."),
    "no_email": _l("This employee has no e-mail address in the register."),
    "has_account": _l("This employee already has an account."),
    "already_invited": _l("This employee has an open invitation already."),
}


def html_params(**kwargs):
    """The attributes of a field's HTML element, as WTForms' `html_params` writes them
    (sorted by name; `class_` is "class", `data_x`/`aria_x` are "data-x"/"aria-x", True alone,
    False left out, values escaped), about four times faster: WTForms formats each attribute
    through Markup.format, ~40 times on a case page, a tenth of its time (issue 12 item 26).
    One difference: None is left out like False, where WTForms writes `maxlength="None"`
    (a template passing `maxlength=x or None`, found by a new-user test). It replaces WTForms'
    own for every widget (`_use_fast_html_params`); a test compares the two."""
    parts = []
    for key, value in sorted(kwargs.items()):
        if value is False or value is None:
            continue
        key = escape(clean_key(key))
        if value is True:
            parts.append(key)
        else:
            quoted = str(escape(value)).replace('"', "&quot;")   # a Markup value may have "
            parts.append(f'{key}="{quoted}"')
    return Markup(" ".join(parts))


WTFORMS_HTML_PARAMS = wtforms.widgets.core.html_params     # WTForms' own, for the test


def _use_fast_html_params():
    """Make every WTForms widget write its attributes with `html_params` above."""
    wtforms.widgets.core.html_params = wtforms.widgets.html_params = html_params
    for widget in (wtforms.widgets.core.Input, wtforms.widgets.core.Button):
        widget.html_params = staticmethod(html_params)


_use_fast_html_params()


def _is_single_line(field_class):
    return issubclass(field_class, StringField) \
        and not issubclass(field_class, (TextAreaField, PasswordField))



@functools.lru_cache(maxsize=16)
def wtforms_translations(locale):
    """WTForms' message catalogue for `locale` ("nl", "en_NL"...), read once per process."""
    return BabelTranslations.load(messages_path(), [locale], domain="wtforms")


def _line_filter(field_class):
    if _is_single_line(field_class):
        return one_line
    return unix_lines if issubclass(field_class, TextAreaField) else None


class Form(FlaskForm):
    """The base of every Kontor form. Each single-line text field (a StringField, but not a
    text area or a password) gets the one_line filter: a line break pasted into a name or a
    subject becomes a space, so it cannot cut an e-mail subject or a vCard line short. Each
    text area gets the unix_lines filter: its CRLF line breaks become LF before Length counts
    them, as the browser's maxlength counts them (issue 11 item 9).

    Opened with a GET, a form is filled in from what its signed-in user typed into it and
    could not send (`kept_copy_for`, issue 10 items 5 and 7); `restored` then says why it
    was kept (kontor.kept_forms.SIGNED_OUT or LANGUAGE), else it is None."""
    restored = None

    class Meta:
        def bind_field(self, form, unbound_field, options):
            line_filter = _line_filter(unbound_field.field_class)
            if line_filter is not None:
                filters = unbound_field.kwargs.get("filters", ())
                options = {**options, "filters": (*filters, line_filter)}
            return super().bind_field(form, unbound_field, options)

        def get_translations(self, form):
            """WTForms' own messages ("Not a valid decimal value.") in the reader's language,
            from a catalogue read once per language: Flask-WTF reads it again on every
            request, about 0.7 ms of a page with a form (issue 12 item 26)."""
            return wtforms_translations(str(get_locale() or "en"))

        def wrap_formdata(self, form, formdata):
            wrapped = super().wrap_formdata(form, formdata)
            if wrapped is None and formdata is _Auto and request.method == "GET":
                return kept_copy_for(form)
            return wrapped


# --- forms kept over a sign-out or a language switch (issue 10 items 5 and 7) ---------------

KEPT_MARK = "kept_forms"     # in the session: something may be kept for this user
KEPT_FIELD_PREFIX = "kept-"  # the language form's copies of the page's form fields
SECRET_FIELDS = (PasswordField, FileField, PlainFileField, MultipleFileField)
NOT_TYPED = (CSRFTokenField, SubmitField, HiddenField)   # fields nobody types into
def kept_on_sign_out(minutes):
    """The notice that a form sent after the timeout is kept for `minutes` minutes."""
    return ngettext("What you typed is kept for %(num)s minute: sign in again and it is back "
                    "in the form.", "What you typed is kept for %(num)s minutes: sign in again "
                    "and it is back in the form.", minutes)
FILLED_IN_AGAIN = _l("What you typed is filled in again below. It has not been saved yet: "
                     "check it and send it again.")


@functools.cache
def unkept_field_names():
    """The names of every password and file field of every Kontor form (never kept), and of
    every button (nothing anyone typed). Worked out once per process: the forms are all
    defined when the first request comes, and the language switch of every page after a POST
    asks for it."""
    names, classes = set(), [Form]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        for name in dir(cls):
            value = getattr(cls, name, None)
            if isinstance(value, UnboundField) \
                    and issubclass(value.field_class, (*SECRET_FIELDS, SubmitField)):
                names.add(name.lower())
    return frozenset(names)


def keepable_fields(pairs):
    """The posted (name, value) pairs that may be kept: kontor.kept_forms.keepable without
    the names of Kontor's password, file and button fields."""
    return kept_forms.keepable(pairs, unkept_field_names())


def genuine_late_form(ended_data):
    """Whether this request's CSRF token is the one of the ended session whose data (the
    serialised session) is `ended_data`: the form came from a page of that session."""
    try:
        secret = serializer.loads(ended_data).get("csrf_token")
        signer = URLSafeTimedSerializer(current_app.config.get("WTF_CSRF_SECRET_KEY")
                                        or current_app.secret_key, salt="wtf-csrf-token")
        posted = request.form.get("csrf_token") or next(
            (value for name, value in request.form.items() if name.endswith("csrf_token")), "")
        token = signer.loads(posted)
    except (BadData, ValueError, TypeError, AttributeError):
        return False
    return isinstance(secret, str) and isinstance(token, str) \
        and hmac.compare_digest(secret, token)


def keep_after_sign_out():
    """For a form (any non-GET request) that arrives after the browser's session ended by a
    timeout (ENDED_SESSION): keep its fields for the ended session's user, when its CSRF
    token is that session's.
    Returns where sign-in should lead back to (`form_page()`, or None). Issue 10 item 5."""
    back = form_page()
    ended = kept_forms.timed_out_session(session.get(ENDED_SESSION)) if back else None
    if ended is None or not genuine_late_form(ended.data):
        return back
    if kept_forms.keep(ended.user_id, urlsplit(back).path,
                       keepable_fields(request.form.items(multi=True)), kept_forms.SIGNED_OUT):
        flash(kept_on_sign_out(int(config.KEPT_FORM_LIFETIME.total_seconds() // 60)), "info")
    return back


def note_kept_forms(user_id):
    """After `user_id` signs in: mark the session when forms are kept for them, so that the
    pages look for them (and only then: no query on every page)."""
    if kept_forms.waiting(user_id):
        session[KEPT_MARK] = True


def kept_copy_for(form):
    """What the signed-in user typed into `form` on this page and could not send: a MultiDict
    to fill it in with, or None. The kept copy is deleted once used and the person told it is
    not saved yet; it fills a form only when every kept field is one of the form's own."""
    if not session.get(KEPT_MARK) or not signed_in_staff():
        return None
    if "kept_form" not in g:
        g.kept_form = kept_forms.find(current_user.id, request.path)
        if g.kept_form is None and not kept_forms.waiting(current_user.id):
            session.pop(KEPT_MARK, None)
    if g.kept_form is None:
        return None
    fields = {field.name: field for field in form}
    pairs = [(name, value) for name, value in kept_forms.pairs_of(g.kept_form)
             if not isinstance(fields.get(name), SECRET_FIELDS)]
    names = {name for name, _value in pairs}
    if not names or not names <= set(fields) \
            or all(isinstance(fields[name], NOT_TYPED) for name in names):
        return None
    if not g.get("kept_form_used"):
        g.kept_form_used = True
        kept_forms.forget(g.kept_form.id)
        if not kept_forms.waiting(current_user.id):
            session.pop(KEPT_MARK, None)
        flash(FILLED_IN_AGAIN, "info")
    form.restored = g.kept_form.reason
    return MultiDict(pairs)


def language_return():
    """For the language switch on every page: {"next": where it leads back to, "fields":
    hidden (name, value) pairs to send along}. After a GET, this page; after a form's POST (it
    came back with errors), the form's page and, for a signed-in user, copies of what they
    typed (named KEPT_FIELD_PREFIX + the field's name), so that the page opens again in the
    new language with it filled in (issue 10 item 7)."""
    if request.method == "GET":
        return {"next": request.full_path.rstrip("?"), "fields": []}
    back = form_page() or "/"
    try:
        fields = keepable_fields(request.form.items(multi=True)) if signed_in_staff() else []
    except HTTPException:   # the request itself was refused (too large): nothing to keep
        fields = []
    return {"next": back, "fields": [(KEPT_FIELD_PREFIX + name, value) for name, value in fields]}


def keep_for_language(back, posted):
    """The language switch's part of issue 10 item 7: keep the copies of the page's form
    fields among the `posted` (name, value) pairs (see `language_return`) for the signed-in
    user and the page `back` leads to. Returns whether anything was kept."""
    back = safe_next(back)
    if back is None or not signed_in_staff():
        return False
    typed = [(name.removeprefix(KEPT_FIELD_PREFIX), value) for name, value in posted
             if name.startswith(KEPT_FIELD_PREFIX)]
    if kept_forms.keep(current_user.id, urlsplit(back).path, keepable_fields(typed),
                       kept_forms.LANGUAGE):
        session[KEPT_MARK] = True
        return True
    return False


def revalidate_kept_forms(sender, template, context, **extra):
    """Before a page is rendered (the `before_render_template` signal): a form filled in
    again after a language switch shows its errors again, now in the new language."""
    for value in list(context.values()):
        if isinstance(value, Form) and value.restored == kept_forms.LANGUAGE \
                and not getattr(value, "revalidated", False):
            value.revalidated = True
            token = value._fields.get(value.meta.csrf_field_name) if value.meta.csrf else None
            if token is not None:
                token.data = token.current_token
            for field in value:     # nor is a one-time key: the page gets a fresh one
                if key_present in getattr(field, "validators", ()):
                    field.data = form_keys.new_key()
                    field.raw_data = [field.data]
            value.validate()


def database_id(value):
    """The `coerce` of a SelectField of ids: what cannot be a row's id ("²", a number past a
    database integer) is refused as a choice (a form error), never sent to the database."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    number = whole_number(value) if isinstance(value, str) else None
    if number is None:
        raise ValueError("not an id")
    return number


ALREADY_SAVED = _l("This was saved already; it has not been saved a second time.")
FORM_KEY_MISSING = _l("This was not saved: the form came without its one-time key (a page "
                      "from before an update, or sent twice). Check that it is not there "
                      "already, then send it again.")


class KeyInput(HiddenInput):
    """The hidden input of a form key, and its error beside it: the key is hidden, so its
    problem is shown where `form.hidden_tag()` puts the key, at the top of the form."""

    def __call__(self, field, **kwargs):
        markup = super().__call__(field, **kwargs)
        if field.errors:
            markup += Markup('<p class="error" role="alert" id="%s-error">%s</p>') % (
                field.id, " ".join(str(error) for error in field.errors))
        return markup


def key_present(form, field):
    """A form with a one-time key refuses a post without one (issue 10 item 2): such a post
    is not guarded against being stored twice. The form comes back with a fresh key, so
    sending it again works, and with everything typed. (A key left out of the post would
    otherwise be the field's default: a fresh key, which guards nothing.)"""
    posted = field.raw_data[0] if field.raw_data else None
    if form_keys.usable(posted) is None:
        field.data = form_keys.new_key()
        raise ValidationError(FORM_KEY_MISSING)


def form_key_field():
    """The one-time key of a form that appends something (kontor/form_keys.py): a new one each
    time the form is shown, the posted one when it comes back with errors; a post without a
    key is refused with FORM_KEY_MISSING. Only forms that claim their key carry one (an edit
    form is guarded by its version instead)."""
    return HiddenField(default=form_keys.new_key, validators=[key_present], widget=KeyInput())

# a file over its form's per-file limit: a message beside the field, never a 413 (issue 10.7)
FILE_TOO_LARGE = _l("“%(name)s” is larger than %(mb)s MB.")


class ActionForm(Form):


    """A CSRF token and a button: every state-changing link is one of these."""
    submit = SubmitField(_l("Confirm"))


def email_field(label, required=True):
    validators = [DataRequired(), Email(message=_l("Enter a valid e-mail address."))] \
        if required else [Optional(), Email(message=_l("Enter a valid e-mail address."))]
    return EmailField(label, validators=validators + [Length(max=254)],
                      render_kw={"autocomplete": "email"})


class LoginForm(Form):
    """E-mail and password: the staff sign-in and each website's portal sign-in."""
    email = email_field(_l("E-mail"))
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class NewPasswordForm(Form):
    """New password twice, checked against the rules. Set `context_email`, `context_company`
    and `context_name` (the person's name) before validating so the context-word rule can
    apply."""
    password = PasswordField(_l("New password"), validators=[DataRequired()],
                             description=PASSWORD_HINT,
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"})
    context_email = ""
    context_company = ""
    context_name = ""

    def validate_password(self, field):
        problem = passwords.password_problem(field.data or "", self.context_email,
                                             self.context_company, self.context_name)
        if problem:
            raise ValidationError(PASSWORD_MESSAGES[problem])


def language_field(label=None):
    return SelectField(label or _l("Language"), choices=languages.LANGUAGES)


class LocalDecimalField(DecimalField):
    """A decimal number as the reader writes it: "12,5" and "12.5" are both 12.5 (a Dutch,
    German or Norwegian reader types a comma; issue 11 item 19), shown again in the reader's
    locale (`format_decimal`). A number with both a comma and a point is no number here: the
    field holds percentages, which never need a thousands separator.

    A text box with a decimal keypad, not <input type=number>: a browser in English refuses
    the comma in a number box, and forgets what was typed."""

    widget = TextInput()

    def __init__(self, *args, **kwargs):
        render_kw = {"inputmode": "decimal", "autocomplete": "off"}
        render_kw.update(kwargs.pop("render_kw", None) or {})
        super().__init__(*args, render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        if valuelist:
            typed = valuelist[0].strip()
            if typed and not re.fullmatch(r"-?[0-9]+([.,][0-9]+)?", typed):
                # "1e2", "٣", "12,5.3": not how anyone writes a percentage; Decimal would read
                # the first two as 100 and 3 (found by a new user's try). Handed on as no
                # number, so DecimalField gives its own (WTForms-translated) message.
                valuelist = ["no number"]
            elif "," in typed:
                valuelist = [typed.replace(",", ".")]
        super().process_formdata(valuelist)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format_decimal(self.data, format="0.00")


class CountrySelect(Select):
    """The country select: the same HTML as WTForms' Select, with its options built once per
    language (kontor/countries.py `options_html`) and the chosen country marked in it."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        if field.flags.required and "required" not in kwargs:
            kwargs["required"] = True
        options = options_html(str(get_locale()))
        if field.data is not None:     # as WTForms marks it: "" chooses "—"
            plain = f'<option value="{escape(field.data)}">'
            options = options.replace(plain, plain.replace("<option ", "<option selected "), 1)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


def country_field(label, **kwargs):
    """A country select of every country (kontor/countries.py), rendered by CountrySelect."""
    return SelectField(label, choices=country_choices, widget=CountrySelect(), **kwargs)


class CompanyForm(Form):
    """The company details: the setup page and the company settings share these fields."""
    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "organization"})
    street = StringField(_l("Street and number"), validators=[Length(max=200)],
                         render_kw={"autocomplete": "street-address"})
    postcode = StringField(_l("Postcode"), validators=[Length(max=20)],
                           render_kw={"autocomplete": "postal-code"})
    city = StringField(_l("City"), validators=[Length(max=100)],
                       render_kw={"autocomplete": "address-level2"})
    country = country_field(_l("Country"))
    phone = StringField(_l("Phone"), validators=[Length(max=50)],
                        render_kw={"autocomplete": "tel"})
    email = email_field(_l("Company e-mail"), required=False)
    vat_number = StringField(_l("VAT number"), validators=[Length(max=30)])
    org_number = StringField(_l("Organisation number"), validators=[Length(max=30)])


class NoteForm(Form):
    """One entry for a contact's or a contact person's note (the contact pages show it, the
    notes blueprint takes it)."""
    text = TextAreaField(_l("Text"), validators=[DataRequired(_l("Write some text first.")),
                                                 Length(max=config.NOTE_ENTRY_MAX_LENGTH)])
    form_key = form_key_field()
    submit = SubmitField(_l("Save text"))


__all__ = ["Form", "database_id", "ActionForm", "NewPasswordForm", "NoteForm", "PasswordField",
           "StringField", "SubmitField", "CompanyForm", "email_field", "language_field",
           "NOT_INVITABLE", "ALREADY_SAVED", "FILE_TOO_LARGE", "FORM_KEY_MISSING",
           "form_key_field"]
