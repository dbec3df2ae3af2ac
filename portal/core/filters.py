import hashlib

import django_filters
from auditlog.models import LogEntry
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from portal.core.derived_cache import DerivedCache
from portal.core.forms import IsoInstantField

# The list pages' filter fields as rendered: the same for everyone asking with the same values, their options from a
# few rarely edited tables, which each app watches (`FILTER_FORMS.invalidate_on_change`). In the 100k bench,
# rendering them took 1.6-1.9 ms of a list page's 12-15 ms (each option through Django's widget templates).
FILTER_FORMS = DerivedCache("filter-forms")


def filter_fields_html(filterset: django_filters.FilterSet) -> str:
    """The filterset's fields, each labelled, as its page shows them: rendered once per set of values asked for (and
    of options no watched write changes: a filterset's `options_key()`, if it has one)."""
    form = filterset.form
    values = [(name, form[name].data) for name in form.fields]  # as each field's widget reads the request
    name = f"{type(filterset).__module__}.{type(filterset).__qualname__}"
    options = filterset.options_key() if hasattr(filterset, "options_key") else ""
    key = hashlib.sha256(f"{name} {values!r} {options}".encode()).hexdigest()
    html: str = FILTER_FORMS.get_or_compute(
        key, lambda: (render_to_string("components/filter_fields.html", {"form": form}), None), now=timezone.now()
    )
    return html


class InstantFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 instant (`since`, `until`) bounded like every instant the portal takes: a 400 naming the filter for
    a year or UTC offset the database or the calendars cannot handle."""

    field_class = IsoInstantField


class FixedFormFilterSet(django_filters.FilterSet):
    """A FilterSet whose form class is built once per class. django-filter builds one per request from fresh copies of
    the filters: 0.3 ms of a filtered list at 100k incidents. Only for filters whose fields are the same on every
    request (not choices read from the data); each form still copies its fields, and a model choice its queryset."""

    def get_form_class(self) -> type[forms.Form]:
        cls = type(self)
        if "_form_class" not in cls.__dict__:  # this class's own, not a parent's
            cls._form_class = super().get_form_class()
        return cls.__dict__["_form_class"]


# The models the audit log names, kept for the minute: every change writes the log, so no write can drop them
# without dropping them always, and a model named for the first time is offered within the minute. Reading them
# (a semi-join of the whole log) was one of the audit page's eleven queries.
AUDITED_MODELS = DerivedCache("audited-models")


def _audited_models() -> list[tuple[str, str]]:
    def compute() -> list[tuple[str, str]]:
        types = ContentType.objects.filter(pk__in=LogEntry.objects.values("content_type"))
        names = [f"{ct.app_label}.{ct.model}" for ct in types.order_by("app_label", "model")]
        return [(name, name) for name in names]

    models: list[tuple[str, str]] = AUDITED_MODELS.get_for_the_minute(compute, now=timezone.now())
    return models


@extend_schema_field(OpenApiTypes.STR)
class ModelFilter(django_filters.ChoiceFilter):
    """A model as "app_label.model", e.g. "accounts.apitoken"."""

    def filter(self, qs: QuerySet[LogEntry], value: str) -> QuerySet[LogEntry]:
        if not value:
            return qs
        app_label, _, model = value.partition(".")
        return qs.filter(content_type__app_label=app_label, content_type__model=model)


class AuditLogFilter(django_filters.FilterSet):
    """Filters shared by the audit log page and the audit API."""

    actor = django_filters.CharFilter(method="filter_actor", label="Actor (username)")
    model = ModelFilter(choices=_audited_models, label="Model")
    object_pk = django_filters.CharFilter(field_name="object_pk", label="Object id")
    action = django_filters.ChoiceFilter(choices=LogEntry.Action.choices)
    since = InstantFilter(field_name="timestamp", lookup_expr="gte", label="From")
    until = InstantFilter(field_name="timestamp", lookup_expr="lt", label="Until")

    class Meta:
        model = LogEntry
        fields = ["actor", "model", "object_pk", "action", "since", "until"]

    def options_key(self) -> str:
        """The models offered, which change with the minute rather than with a write (`filter_fields_html`)."""
        return repr(_audited_models())

    def filter_actor(self, qs: QuerySet[LogEntry], name: str, value: str) -> QuerySet[LogEntry]:
        """The username recorded with the entry (which outlives the user), or the actor's current one."""
        if not value:
            return qs
        return qs.filter(Q(seal__actor_username__iexact=value) | Q(actor__username__iexact=value))
