import factory
from django.contrib.auth.models import Group

from operations.models import AlertRule
from portal.accounts.models import User
from portal.accounts.roles import Role

TEST_PASSWORD = "correct-horse-battery-staple"  # noqa: S105


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def role(self, create: bool, role: Role | None, **kwargs: object) -> None:
        if role is not None:
            self.groups.add(Group.objects.get(name=role))
        if create:
            self.save()


class AlertRuleFactory(factory.django.DjangoModelFactory):
    """A catalogue entry; name, severity and owner team are the caller's to say."""

    class Meta:
        model = AlertRule

    metric = factory.LazyAttribute(lambda rule: f"{rule.name} value")
    expr = factory.LazyAttribute(lambda rule: f"{rule.name.lower()}_value")
    threshold = 1000
    trigger = factory.LazyAttribute(lambda rule: f"{rule.metric} > {rule.threshold}")
