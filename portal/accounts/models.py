from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models

phone_validator = RegexValidator(
    r"^\+[1-9]\d{6,14}$", "Enter the phone number in international E.164 form, e.g. +14155550100."
)
chat_handle_validator = RegexValidator(r"^@[\w.\-]{1,80}$", "Enter the chat handle with its @, e.g. @jane.doe.")


class User(AbstractUser):
    """Portal user. Contact methods: `email` (inherited), `phone` for SMS, `chat_handle` for chat mentions."""

    phone = models.CharField(max_length=16, blank=True, validators=[phone_validator], help_text="E.164, for SMS.")
    chat_handle = models.CharField(max_length=81, blank=True, validators=[chat_handle_validator])
    # The OpenID Provider's `sub` for people who sign in with SSO: how they are found again (never by email).
    oidc_subject = models.CharField(max_length=255, unique=True, null=True, blank=True, editable=False)
    slack_user_id = models.CharField(
        max_length=32, blank=True, db_index=True, help_text="Slack's id for this person (U…), learnt on first use."
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]


class ApiToken(models.Model):
    """A named bearer token for an integration. Only a SHA-256 of the key is stored; the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses this token, e.g. 'alertmanager' or 'ci-deploy'.")
    prefix = models.CharField(max_length=8, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], condition=models.Q(revoked_at__isnull=True), name="uniq_active_token_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
