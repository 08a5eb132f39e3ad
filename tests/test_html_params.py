"""blueprints.forms.html_params: WTForms' html_params with the same output, faster (issue 12
item 26: Markup.format of each attribute was a tenth of the case page's time)."""
import wtforms.widgets
from flask_babel import lazy_gettext
from markupsafe import Markup
from wtforms.fields.core import Field

from blueprints import forms
from blueprints.support.forms import AddInformationForm, OwnerForm

CASES = [
    {},
    {"name": "owner", "id": "owner", "class_": "button-small"},
    {"required": True, "readonly": False, "autofocus": True, "value": ""},
    {"data_user_name": "a_b", "aria_describedby": "x-hint x-error", "aria_invalid": "true"},
    {"value": 'He said "hi" & <left> \'quietly\''},
    {"value": Markup('<b title="x">bold</b>'), "title": Markup("a &amp; b")},
    {"value": 42, "step": 0.5, "min": None, "label": lazy_gettext("Change owner")},
    {"for_": "files", "type": "file", "multiple": True, "zzz": "ü ø ß ’"},
]


def test_html_params_writes_what_wtforms_writes(app):
    with app.test_request_context():
        for kwargs in CASES:
            ours = forms.html_params(**kwargs)
            # but for None, which WTForms writes as "None" and we leave out
            assert ours == forms.WTFORMS_HTML_PARAMS(
                **{key: value for key, value in kwargs.items() if value is not None})
            assert isinstance(ours, Markup)


def test_an_attribute_that_is_none_is_left_out(app):
    """Found by a new-user test: the website data item page had `maxlength="None"`."""
    assert forms.html_params(maxlength=None, min=None, id="x") == 'id="x"'
    with app.test_request_context():
        field = AddInformationForm().body
        assert "None" not in str(field(maxlength=None, placeholder=None))


def test_every_widget_uses_it_and_renders_as_before(app):
    assert wtforms.widgets.core.html_params is forms.html_params
    assert wtforms.widgets.html_params is forms.html_params
    assert wtforms.widgets.core.Input.html_params is forms.html_params
    with app.test_request_context(method="POST", data={"owner": "2", "body": 'Ønskes "nu"'}):
        owner = OwnerForm()
        owner.owner.choices = {1: 'Anna <anna@x.example>', 2: 'Piet "P" de Vries'}
        added = AddInformationForm()
        added.validate()
        rendered = [str(owner.owner()), str(owner.submit(class_="button-small")),
                    str(added.body(aria_describedby="body-hint")), str(added.files(multiple=True)),
                    str(Field.__html__(added.submit))]
        try:
            wtforms.widgets.core.html_params = wtforms.widgets.html_params = \
                forms.WTFORMS_HTML_PARAMS
            for widget in (wtforms.widgets.core.Input, wtforms.widgets.core.Button):
                widget.html_params = staticmethod(forms.WTFORMS_HTML_PARAMS)
            before = [str(owner.owner()), str(owner.submit(class_="button-small")),
                      str(added.body(aria_describedby="body-hint")),
                      str(added.files(multiple=True)), str(Field.__html__(added.submit))]
        finally:
            forms._use_fast_html_params()
    assert rendered == before
    assert '<option selected value="2">Piet &#34;P&#34; de Vries</option>' in rendered[0]
    assert 'Ønskes &#34;nu&#34;' in rendered[2]


def test_templates_write_nothing_for_none(app):
    """An attribute written by hand in a template (`value="{{ x }}"`) is empty for None, on
    the staff pages and the portal's alike."""
    from flask import render_template_string  # noqa: PLC0415
    with app.test_request_context():
        assert render_template_string('<input value="{{ x }}" maxlength="{{ y }}">',
                                      x=None, y=None) == '<input value="" maxlength="">'
        assert render_template_string("{{ 0 }} {{ false }} {{ '' }}") == "0 False "
    assert app.extensions["kontor_portal"].jinja_env.finalize(None) == ""
