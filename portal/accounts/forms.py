from django import forms

from portal.accounts.models import User
from portal.core import forms as portal_forms


class TokenCreateForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), to_field_name="username", help_text="Whose rights it carries."
    )
    name = portal_forms.LineField(max_length=100, help_text="What uses it, e.g. alertmanager or ci-deploy.")


class ContactForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["email", "phone", "chat_handle"]
        help_texts = {
            "email": "Incident and maintenance email.",
            "phone": "E.164, e.g. +14155550100; used for critical SMS pages.",
            "chat_handle": "Mentioned in chat alerts, e.g. @jane.doe.",
        }
