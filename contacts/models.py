from django.core.validators import RegexValidator
from django.db import models

chat_channel_validator = RegexValidator(r"^#[\w.\-]{1,80}$", "Write the channel with its #, e.g. #broxiva-devops.")


class Team(models.Model):
    """A team that owns alerts, runbooks and services, and how to reach it (the seeds' emergency contacts)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True, help_text="The `team` label of exported alert rules.")
    slack_channel = models.CharField(max_length=81, blank=True, validators=[chat_channel_validator])
    email = models.EmailField(blank=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name
