"""Sign-in (throttled), the account page, and API token management."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import throttle
from accounts.models import ApiToken
from accounts.tokens import create_token, revoke_token
from groundmotion import access

LOCKED_MESSAGE = "Too many failed sign-in attempts. Wait a few minutes and try again."


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view, refusing attempts after too many failures per name or address."""

    template_name = "registration/login.html"

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        username = request.POST.get("username", "")
        if throttle.is_locked(request, username):
            form = self.get_form()
            form.errors.clear()
            context = self.get_context_data(form=form, locked_message=LOCKED_MESSAGE)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: object) -> HttpResponse:
        throttle.record_failure(self.request, self.request.POST.get("username", ""))
        return super().form_invalid(form)

    def form_valid(self, form: object) -> HttpResponse:
        throttle.reset(self.request, self.request.POST.get("username", ""))
        return super().form_valid(form)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """What the user can see and download, their recent downloads, and their API tokens."""
    user = request.user
    visible = access.visible_datasets(user).order_by("slug")
    downloadable = set(access.downloadable_datasets(user).values_list("pk", flat=True))
    rows = [(dataset, access.sees_points(user, dataset), dataset.pk in downloadable)
            for dataset in visible]  # fmt: skip
    context = {
        "rows": rows,
        "tokens": ApiToken.objects.filter(user=user),
        "downloads": user.downloadrecord_set.prefetch_related("datasets")[:20],
        "new_token": request.session.pop("new_token", None),
    }
    return render(request, "accounts/profile.html", context)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:100]
    if not name:
        messages.error(request, "Give the token a name, e.g. the script that will use it.")
        return redirect("profile")
    _, token = create_token(request.user, name)
    # Shown once on the next page, then dropped from the session.
    request.session["new_token"] = token
    return redirect("profile")


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    if revoke_token(request.user, token_id):
        messages.success(request, "Token revoked.")
    else:
        messages.error(request, "No such active token.")
    return redirect("profile")
