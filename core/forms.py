"""The account forms: log in (Django's, with failed log-ins counted and locked out:
core/login_guard.py) and change my password (Django's, in plainer words)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.views.decorators.debug import sensitive_variables

from core.login_guard import LoginLocked, login_authenticate


class GuardedAuthenticationForm(AuthenticationForm):
    locked: LoginLocked | None = None

    @sensitive_variables("password")
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            if self.request is None:
                raise ImproperlyConfigured("the log-in form counts failures per client address: it needs the request")
            try:
                # Typed as Django's User by the stubs; it is whatever the auth backend returns.
                self.user_cache = login_authenticate(request=self.request, username=username, password=password)  # type: ignore[assignment]
            except LoginLocked as locked:
                self.locked = locked
                raise ValidationError(locked.message, code="locked_out") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """The current password, then the new one twice; Django's validators explain a refusal."""

    error_messages = {
        **auth_forms.PasswordChangeForm.error_messages,
        "password_incorrect": "That is not your current password. Please type it again.",
        "password_mismatch": "The two new passwords are not the same. Please type them again.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["new_password1"].label = "New password"
        self.fields["new_password2"].label = "New password again"
        self.fields["new_password2"].help_text = "Type the new password a second time, to be sure of it."

    def clean(self) -> dict[str, Any]:
        self.validate_passwords("new_password1", "new_password2")
        # Django puts the validators' objections under the second field; they are about the new
        # password, so they go beside it, under the rules its help lists.
        if "new_password2" in self.cleaned_data:
            self.validate_password_for_user(self.user, "new_password1")
        return self.cleaned_data
