"""The portal's inquiries (issue 14 item 5): Send an inquiry, My inquiries and one inquiry.
The rules are in kontor/inquiries.py; the "Fetch website data" queue processes them."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.forms import ALREADY_SAVED
from blueprints.portal.support_forms import InquiryForm
from blueprints.portal.views import bp
from kontor import audit, form_keys, inquiries
from kontor.access import portal_sign_in_required


@bp.route("/inquiries")
@portal_sign_in_required
def inquiry_list():
    """My inquiries: the customer's (and their colleagues' at the same contact), newest
    first, with whether we have processed them."""
    page = inquiries.listing(current_user, request.args.get("page"))
    return render_template("portal/inquiries.html", page=page,
                           values={item.id: inquiries.values_of(item) for item in page.items})


@bp.route("/inquiries/new", methods=["GET", "POST"])
@portal_sign_in_required
def new_inquiry():
    """Send an inquiry: subject and message."""
    form = InquiryForm()
    if form.validate_on_submit():
        try:
            item = inquiries.send(current_user, form.subject.data, form.message.data,
                                  form_key=form.form_key.data)
        except form_keys.AlreadySaved:   # a double click, or Back and Send again: once
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("portal.inquiry_list"))
        except ValueError:
            form.message.errors.append(_("Write a subject and a message."))
        else:
            audit.record("portal.inquiry_sent", target=f"{current_user.website.slug}: "
                         f"{current_user.email}", detail=f"incoming item {item.id}",
                         ip=request.remote_addr)
            flash(_("Thank you: your inquiry was sent. We will get back to you."), "success")
            return redirect(url_for("portal.inquiry_list"))
    return render_template("portal/inquiry_new.html", form=form), 400 if form.errors else 200


@bp.route("/inquiries/<int:item_id>")
@portal_sign_in_required
def inquiry(item_id):
    """One of the customer's inquiries; another customer's is not found."""
    item = inquiries.find(current_user, item_id)
    if item is None:
        abort(404)
    return render_template("portal/inquiry.html", item=item, values=inquiries.values_of(item))
