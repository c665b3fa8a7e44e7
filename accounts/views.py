"""Shopper accounts: sign up, sign in and out, passwords, order history, saved addresses.

Django's auth views are sync; the account home and address pages are async, each
write a short transaction in `accounts.services`. URLs are passed explicitly (the URLs are
namespaced), so nothing depends on the LOGIN_* settings.
"""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import aget_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic.edit import FormView

from accounts import services
from accounts.exceptions import EmailAlreadyRegistered
from accounts.forms import (
    EMAIL_MAX_LENGTH,
    AddressForm,
    EmailAuthenticationForm,
    EmailPasswordResetForm,
    SignupForm,
    normalize_email,
)
from accounts.models import Address
from checkout.models import Order
from checkout.services.carts import cart_attach_to_user
from shop import ratelimit

ORDERS_PER_PAGE = 20
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

account_login_required = login_required(login_url="account:login")


def _rate_limited(view: FormView, request: HttpRequest) -> HttpResponse | None:
    """Count this attempt at the view's `rate_limit` from the client's address and for the e-mail
    typed; return the form again with a 429 when either has had too many, else None. Nothing else
    is checked first."""
    setting, action, attempts = view.rate_limit  # type: ignore[attr-defined]
    email = normalize_email(str(request.POST.get(view.email_field, "")))[:EMAIL_MAX_LENGTH]
    try:
        ratelimit.rate_limit_hit(
            action=action,
            clients=[f"ip:{ratelimit.client_ip(request)}", *([f"email:{email}"] if email else [])],
            rate=getattr(settings, setting),
            attempts=attempts,
        )
    except ratelimit.RateLimited as error:
        form = view.get_form_class()(
            **{**view.get_form_kwargs(), "data": None, "files": None, "initial": {view.email_field: email}}
        )
        response = view.render_to_response(
            view.get_context_data(form=form, rate_limit_message=error.user_message)
        )
        response.status_code = 429
        response["Retry-After"] = str(error.retry_after)
        return response
    return None


class RateLimitedPostMixin:
    """Answer a POST past its rate limit (see `_rate_limited`) before the form is looked at."""

    #: The setting holding the rate, the action counted, and what the message calls the attempts.
    rate_limit: tuple[str, str, str]

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return _rate_limited(self, request) or super().post(request, *args, **kwargs)  # type: ignore


class LoginView(RateLimitedPostMixin, auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "account/login.html"
    next_page = reverse_lazy("account:home")
    email_field = "username"
    rate_limit = ("RATE_LIMIT_LOGIN", "sign-in", "sign-in attempts")

    def form_valid(self, form: EmailAuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        cart_attach_to_user(session=self.request.session, user=form.get_user())
        return response


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("catalog:home")

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You’re signed out. See you soon.")
        return response


@method_decorator([sensitive_post_parameters(), csrf_protect, never_cache], name="dispatch")
class SignupView(RateLimitedPostMixin, auth_views.RedirectURLMixin, FormView):
    form_class = SignupForm
    template_name = "account/signup.html"
    next_page = reverse_lazy("account:home")
    email_field = "email"
    rate_limit = ("RATE_LIMIT_SIGNUP", "sign-up", "sign-up attempts")

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect("account:home")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: SignupForm) -> HttpResponse:
        try:
            user = services.user_create(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                first_name=form.cleaned_data["first_name"],
            )
        except EmailAlreadyRegistered as error:
            form.add_error("email", error.user_message)
            return self.form_invalid(form)
        auth_login(self.request, user, backend=MODEL_BACKEND)
        cart_attach_to_user(session=self.request.session, user=user)
        messages.success(self.request, "Welcome to Northwind Supply! Your account is ready.")
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context[self.redirect_field_name] = self.get_redirect_url()
        return context


@method_decorator(account_login_required, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "account/password_change_form.html"
    success_url = reverse_lazy("account:password-change-done")


@method_decorator(account_login_required, name="dispatch")
class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "account/password_change_done.html"


class PasswordResetView(RateLimitedPostMixin, auth_views.PasswordResetView):
    form_class = EmailPasswordResetForm
    template_name = "account/password_reset_form.html"
    email_template_name = "account/password_reset_email.txt"
    subject_template_name = "account/password_reset_subject.txt"
    success_url = reverse_lazy("account:password-reset-done")
    email_field = "email"
    rate_limit = ("RATE_LIMIT_PASSWORD_RESET", "password-reset", "password reset requests")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "account/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "account/password_reset_confirm.html"
    success_url = reverse_lazy("account:password-reset-complete")
    # The shopper signs in with the new password, which also attaches their guest cart.
    post_reset_login = False


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "account/password_reset_complete.html"

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["login_url"] = reverse("account:login")
        return context


def _home_context(*, user, page_number: str | None) -> dict[str, object]:
    """Return the account page's orders (one page of them) and saved addresses, read in full."""
    orders = Order.objects.filter(user=user).order_by("-created_at", "-pk")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(page_number)
    page.object_list = list(page.object_list)
    addresses = Address.objects.filter(user=user).order_by("-is_default", "-created_at", "-pk")
    return {
        "page": page,
        "num_pages": page.paginator.num_pages,
        "orders": page.object_list,
        "addresses": list(addresses),
    }


@account_login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
async def home(request: HttpRequest) -> HttpResponse:
    # One trip to a thread for the page's reads; the template then touches no database.
    context = await sync_to_async(_home_context)(user=request.user, page_number=request.GET.get("page"))
    return render(request, "account/home.html", context)


async def _address_form(request: HttpRequest, address: Address | None) -> HttpResponse:
    """Show the address form, or save the address posted (a new one when `address` is None)."""
    form = AddressForm(request.POST if request.method == "POST" else None, instance=address)
    # A model form's validation may query (its unique checks), so it runs in a thread.
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        if address is None:
            await sync_to_async(services.address_create)(user=request.user, **form.cleaned_data)
        else:
            await sync_to_async(services.address_update)(address=address, **form.cleaned_data)
        messages.success(request, "Address saved." if address is None else "Address updated.")
        return redirect("account:home")
    return render(request, "account/address_form.html", {"form": form, "address": address})


@account_login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
async def address_add(request: HttpRequest) -> HttpResponse:
    return await _address_form(request, None)


@account_login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
async def address_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return await _address_form(request, await aget_object_or_404(Address, pk=pk, user=request.user))


@account_login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
async def address_delete(request: HttpRequest, pk: int) -> HttpResponse:
    address = await aget_object_or_404(Address, pk=pk, user=request.user)
    if request.method == "POST":
        await sync_to_async(services.address_delete)(address=address)
        messages.success(request, "Address deleted.")
        return redirect("account:home")
    return render(request, "account/address_confirm_delete.html", {"address": address})


@account_login_required
@never_cache
@require_POST
async def address_default(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        await sync_to_async(services.address_set_default)(user=request.user, address_id=pk)
    except Address.DoesNotExist as error:
        raise Http404("No such address.") from error
    messages.success(request, "Default delivery address updated.")
    return redirect("account:home")
