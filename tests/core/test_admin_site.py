"""Every model the admin site registers lists and, where it may be added, offers its add form: its widgets render
through the form renderer (portal.core.forms.FormRenderer), the admin's own ones through its fallback."""

import pytest
from django.contrib import admin
from django.urls import reverse

from portal.accounts.roles import Role


@pytest.mark.django_db
def test_every_admin_list_and_add_form_renders(client, make_user):
    client.force_login(make_user(Role.ADMIN, username="ada", is_staff=True, is_superuser=True))
    refused, forms = [], 0
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        listed = client.get(reverse(f"{name}_changelist"))
        if listed.status_code != 200:
            refused.append((model._meta.label, "list", listed.status_code))
        if model_admin.has_add_permission(listed.wsgi_request):
            added = client.get(reverse(f"{name}_add"))
            forms += added.status_code == 200 and 'name="_save"' in added.content.decode()
            if added.status_code != 200:
                refused.append((model._meta.label, "add", added.status_code))
    assert refused == []
    assert forms > 10  # most models may be added, each with its form
