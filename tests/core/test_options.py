"""OPTIONS on a create endpoint describes what it accepts (its input serializer), not what it answers."""

from django.urls import reverse

from portal.accounts.roles import Role


def test_options_describes_the_input_of_a_generic_list_create_view(token_client, db):
    response = token_client(Role.RESPONDER).options(reverse("api:deployment-list"))

    assert response.status_code == 200
    accepts = response.json()["actions"]["POST"]
    assert {"service", "environment", "commit", "override_reason", "incident"} <= set(accepts)
    assert not {"id", "recorded_by", "checklists", "freeze_reasons"} & set(accepts)  # output-only fields
    assert accepts["override_reason"]["required"] is False


def test_options_describes_the_input_of_a_plain_api_view(token_client, db):
    url = reverse("api:maintenance-window-detail", args=[1])
    accepts = token_client(Role.ADMIN).options(url).json()["actions"]["PATCH"]
    assert "expected_impact" in accepts
    assert "starts_at" not in accepts


def test_options_lists_no_write_a_role_may_not_make(token_client, db):
    response = token_client(Role.VIEWER).options(reverse("api:deployment-list"))
    assert "actions" not in response.json()
