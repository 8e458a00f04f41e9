"""The ops pages' forms: sign-in, account search, and the erase confirmation."""

from django import forms

from accounts.services import normalize_email


class LoginForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput)


class SearchForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email (exact)")

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class EraseForm(forms.Form):
    confirm_email = forms.CharField(max_length=254, label="Type the account's email to confirm")
