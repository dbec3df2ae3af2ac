from django.db import models


class Service(models.Model):
    """Something the platform runs and people depend on: incidents affect services, stakeholders subscribe to them."""

    class Tier(models.IntegerChoices):
        CRITICAL = 1, "Tier 1 (critical)"
        HIGH = 2, "Tier 2 (high)"
        STANDARD = 3, "Tier 3 (standard)"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    owner_team = models.CharField(max_length=100, blank=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.STANDARD)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name
