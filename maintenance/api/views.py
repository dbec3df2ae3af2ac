"""The maintenance and freeze REST API: Viewers read; Responders tick checklists and request freeze exceptions;
Incident Commanders run occurrences, declare emergency maintenance and decide exceptions; Admins edit windows and
freeze rules. The deploy gate and the status page are here too."""

from datetime import timedelta

from django.core import signing
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import authentication, exceptions, generics, serializers, status, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident, Service
from incidents.services import status_update_text
from maintenance import ical, policy, selectors
from maintenance.api.serializers import (
    AwareDateTimeField,
    CalendarOutput,
    ChecklistItemOutput,
    ExceptionOutput,
    FreezePassOutput,
    FreezePeriodOutput,
    FreezeRuleSerializer,
    FreezeStatusOutput,
    OccurrenceDetailOutput,
    OccurrenceOutput,
    WindowDetailOutput,
    WindowOutput,
)
from maintenance.filters import ExceptionFilter, FreezePassFilter, OccurrenceFilter, WindowFilter
from maintenance.models import (
    ChecklistItem,
    FreezeException,
    FreezePass,
    FreezeRule,
    MaintenanceOccurrence,
    MaintenanceWindow,
)
from maintenance.services import (
    checklist_item_tick,
    freeze_exception_decide,
    freeze_exception_request,
    freeze_rule_create,
    freeze_rule_update,
    occurrence_materialize,
    occurrence_reschedule,
    occurrence_transition,
    window_create,
    window_create_emergency,
    window_update,
)
from portal.accounts.authentication import ApiTokenAuthentication
from portal.accounts.models import User
from portal.accounts.permissions import role_permission, writes_need
from portal.accounts.roles import Role
from portal.core.api import fields
from portal.core.api.schema import error_response
from portal.core.api.serializers import FixedInput
from portal.core.api.throttling import IntegrationRateThrottle, SubscribeRateThrottle
from portal.core.audit import bind_actor
from portal.core.models import Environment
from portal.notifications.services import (
    status_subscription_cancel,
    status_subscription_confirm,
    status_subscription_request,
)

Responders = role_permission(Role.RESPONDER)
Commanders = role_permission(Role.INCIDENT_COMMANDER)
Admins = role_permission(Role.ADMIN)
MAX_CALENDAR_RANGE = timedelta(days=400)


def _occurrence_out(occurrence: MaintenanceOccurrence, status_code: int = 200) -> Response:
    occurrence = selectors.occurrence_detail().get(pk=occurrence.pk)
    data = OccurrenceDetailOutput(occurrence).data | {"warnings": selectors.occurrence_conflicts(occurrence=occurrence)}
    return Response(data, status=status_code)


def _window_out(window: MaintenanceWindow, status_code: int = 200) -> Response:
    window = selectors.window_list().get(pk=window.pk)
    warnings = selectors.window_conflicts(window=window, now=timezone.now())
    return Response(WindowDetailOutput(window).data | {"warnings": warnings}, status=status_code)


class WindowListApi(generics.ListAPIView):
    """Maintenance windows. POST creates a recurring or one-off window (Admins); the answer lists overlaps."""

    serializer_class = WindowOutput
    filterset_class = WindowFilter

    class WindowListInput(serializers.Serializer):
        name = fields.LineField(max_length=120)
        kind = serializers.ChoiceField(choices=MaintenanceWindow.Kind.choices, help_text="recurring or one_off")
        description = fields.TextField(required=False, allow_blank=True, default="")
        expected_impact = fields.TextField(required=False, allow_blank=True, default="")
        environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PRODUCTION)
        services = serializers.SlugRelatedField(
            slug_field="slug", queryset=Service.objects.all(), many=True, required=False
        )
        owner = serializers.SlugRelatedField(
            slug_field="username", queryset=User.objects.filter(is_active=True), required=False, allow_null=True
        )
        rrule = fields.LineField(required=False, allow_blank=True, default="", max_length=200)
        dtstart = fields.DateField(required=False)
        start_time = serializers.TimeField(required=False)
        zone = fields.LineField(required=False, default="UTC", max_length=64)
        starts_at = AwareDateTimeField(required=False)
        duration = serializers.DurationField(help_text="e.g. 02:00:00")
        notice_lead = serializers.DurationField(help_text="e.g. 1 00:00:00 for 24 hours")

    def get_queryset(self) -> QuerySet[MaintenanceWindow]:
        return selectors.window_list()

    def get_permissions(self) -> list:
        return [Admins()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(request=WindowListInput, responses={201: WindowDetailOutput})
    def post(self, request: Request) -> Response:
        payload = self.WindowListInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _window_out(window_create(actor=request.user, **payload.validated_data), status.HTTP_201_CREATED)


SCHEDULE_FIELDS = frozenset({"kind", "environment", "rrule", "dtstart", "start_time", "zone", "starts_at", "duration"})


def _read_only(name: str) -> str:
    if name in SCHEDULE_FIELDS:
        return (
            f"{name} cannot change here: the window's occurrences keep their identity. Move one occurrence with POST "
            "/api/v1/maintenance/occurrences/<id>/reschedule/ (or cancel it and create a new window)."
        )
    return f"{name} is read-only or unknown here."


class WindowDetailApi(APIView):
    """One window with its coming overlaps; PATCH edits it (Admins)."""

    class WindowDetailInput(serializers.Serializer):
        name = fields.LineField(max_length=120, required=False)
        description = fields.TextField(required=False, allow_blank=True)
        expected_impact = fields.TextField(required=False, allow_blank=True)
        services = serializers.SlugRelatedField(
            slug_field="slug", queryset=Service.objects.all(), many=True, required=False
        )
        owner = serializers.SlugRelatedField(
            slug_field="username", queryset=User.objects.filter(is_active=True), required=False, allow_null=True
        )
        active = serializers.BooleanField(required=False)
        notice_lead = serializers.DurationField(required=False)

        def to_internal_value(self, data: object) -> dict[str, object]:
            # DRF drops fields it does not know; a client changing the schedule here would get a 200 and no change.
            if isinstance(data, dict) and (refused := sorted(set(data) - set(self.fields))):
                raise serializers.ValidationError({name: [_read_only(name)] for name in refused})
            return super().to_internal_value(data)

    def get_permissions(self) -> list:
        return [Admins()] if self.request.method == "PATCH" else super().get_permissions()

    @extend_schema(responses=WindowDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        return _window_out(get_object_or_404(MaintenanceWindow, pk=pk))

    @extend_schema(request=WindowDetailInput, responses=WindowDetailOutput)
    def patch(self, request: Request, pk: int) -> Response:
        payload = self.WindowDetailInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        window = get_object_or_404(MaintenanceWindow, pk=pk)
        return _window_out(window_update(window=window, actor=request.user, **payload.validated_data))


class WindowOccurrencesApi(APIView):
    """Give one coming occurrence of a recurring window its row, to reschedule or cancel it ahead of time."""

    permission_classes = [Commanders]

    class WindowOccurrencesInput(serializers.Serializer):
        original_start = AwareDateTimeField(help_text="Where the window's rule puts the occurrence.")

    @extend_schema(request=WindowOccurrencesInput, responses={200: OccurrenceDetailOutput, 201: OccurrenceDetailOutput})
    def post(self, request: Request, pk: int) -> Response:
        payload = self.WindowOccurrencesInput(data=request.data)
        payload.is_valid(raise_exception=True)
        window = get_object_or_404(MaintenanceWindow, pk=pk)
        existed = window.occurrences.filter(original_start=payload.validated_data["original_start"]).exists()
        occurrence = occurrence_materialize(window=window, actor=request.user, **payload.validated_data)
        return _occurrence_out(occurrence, status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class EmergencyApi(APIView):
    """Emergency maintenance: starts now; stakeholders are notified at once (Incident Commanders). During a freeze it
    names the open P1/P2 `incident` it answers; a freeze that still holds it leaves it `notified` (see its history)."""

    permission_classes = [Commanders]

    class EmergencyInput(serializers.Serializer):
        name = fields.LineField(max_length=90)
        duration = serializers.DurationField(help_text="e.g. 01:00:00")
        services = serializers.SlugRelatedField(
            slug_field="slug", queryset=Service.objects.all(), many=True, required=False
        )
        expected_impact = fields.TextField(required=False, allow_blank=True, default="")
        description = fields.TextField(required=False, allow_blank=True, default="")
        environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PRODUCTION)
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.select_related("severity"), required=False, allow_null=True,
            help_text="During a freeze: the open P1/P2 it answers.",
        )  # fmt: skip

    @extend_schema(request=EmergencyInput, responses={201: OccurrenceDetailOutput})
    def post(self, request: Request) -> Response:
        payload = self.EmergencyInput(data=request.data)
        payload.is_valid(raise_exception=True)
        occurrence = window_create_emergency(actor=request.user, **payload.validated_data)
        return _occurrence_out(occurrence, status.HTTP_201_CREATED)


class OccurrenceListApi(generics.ListAPIView):
    """Materialized occurrences (those within their notice horizon or acted on), by start."""

    serializer_class = OccurrenceOutput
    filterset_class = OccurrenceFilter

    def get_queryset(self) -> QuerySet[MaintenanceOccurrence]:
        return selectors.occurrence_list()


class OccurrenceDetailApi(APIView):
    @extend_schema(responses=OccurrenceDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        return _occurrence_out(get_object_or_404(MaintenanceOccurrence, pk=pk))


class OccurrenceTransitionApi(APIView):
    """Move an occurrence along its lifecycle; a 400 lists the allowed next states. Extending needs `ends_at`."""

    permission_classes = [Commanders]

    class OccurrenceTransitionInput(serializers.Serializer):
        to_status = serializers.ChoiceField(choices=MaintenanceOccurrence.Status.choices)
        note = fields.LineField(required=False, allow_blank=True, default="", max_length=500)
        ends_at = AwareDateTimeField(required=False)
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.all(), required=False, allow_null=True,
            help_text="Starting during a freeze: the open P1/P2 this emergency maintenance answers.",
        )  # fmt: skip
        override_reason = fields.LineField(
            required=False, allow_blank=True, default="", max_length=300,
            help_text="Why it starts with pre-maintenance (or completes with post-maintenance) items open.",
        )  # fmt: skip

    @extend_schema(
        request=OccurrenceTransitionInput,
        responses={
            200: OccurrenceDetailOutput,
            409: error_response(
                "Checklist items are open (`open_items` lists them; give `override_reason`), or a freeze refuses the "
                "start (`freeze` says which rule applied)."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.OccurrenceTransitionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        occurrence = get_object_or_404(MaintenanceOccurrence, pk=pk)
        return _occurrence_out(
            occurrence_transition(occurrence=occurrence, actor=request.user, **payload.validated_data)
        )


class OccurrenceRescheduleApi(APIView):
    """Move one occurrence; invited stakeholders get an updated invitation. The answer lists overlaps."""

    permission_classes = [Commanders]

    class OccurrenceRescheduleInput(serializers.Serializer):
        starts_at = AwareDateTimeField()
        ends_at = AwareDateTimeField()
        reason = fields.LineField(required=False, allow_blank=True, default="", max_length=500)

    @extend_schema(request=OccurrenceRescheduleInput, responses=OccurrenceDetailOutput)
    def post(self, request: Request, pk: int) -> Response:
        payload = self.OccurrenceRescheduleInput(data=request.data)
        payload.is_valid(raise_exception=True)
        occurrence = get_object_or_404(MaintenanceOccurrence, pk=pk)
        return _occurrence_out(
            occurrence_reschedule(occurrence=occurrence, actor=request.user, **payload.validated_data)
        )


class ChecklistItemApi(APIView):
    """Tick or untick one checklist line (Responders)."""

    permission_classes = [Responders]

    class ChecklistItemInput(serializers.Serializer):
        done = serializers.BooleanField()

    @extend_schema(request=ChecklistItemInput, responses=ChecklistItemOutput)
    def patch(self, request: Request, pk: int, item_pk: int) -> Response:
        payload = self.ChecklistItemInput(data=request.data)
        payload.is_valid(raise_exception=True)
        item = get_object_or_404(ChecklistItem, pk=item_pk, occurrence_id=pk)
        return Response(
            ChecklistItemOutput(checklist_item_tick(item=item, actor=request.user, **payload.validated_data)).data
        )


class RangeInput(serializers.Serializer):
    start = AwareDateTimeField(required=False, help_text="Default: now.")
    end = AwareDateTimeField(required=False, help_text="Default: 31 days after start.")
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)

    def validate(self, attrs: dict) -> dict:
        start = attrs.setdefault("start", timezone.now())
        end = attrs.setdefault("end", start + timedelta(days=31))
        if not start < end <= start + MAX_CALENDAR_RANGE:
            raise serializers.ValidationError({"end": "Must be after start and at most 400 days after it."})
        return attrs


def _range(request: Request) -> dict:
    payload = RangeInput(data=request.query_params)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class CalendarApi(APIView):
    """Maintenance occurrences and freeze periods in a range (what the month view shows)."""

    @extend_schema(parameters=[RangeInput], responses=CalendarOutput)
    def get(self, request: Request) -> Response:
        span = _range(request)
        maintenance = selectors.calendar_entries(start=span["start"], end=span["end"])
        freezes = selectors.freeze_periods(start=span["start"], end=span["end"], environment=span.get("environment"))
        return Response(CalendarOutput({"maintenance": maintenance, "freezes": freezes}).data)


FEED_SALT = "maintenance.calendar-feed"


def feed_key(user: User) -> str:
    """The secret of a user's personal feed URL: calendar apps cannot send tokens, so the URL carries a signature."""
    return signing.Signer(salt=FEED_SALT).sign(str(user.pk))


class FeedKeyAuthentication(authentication.BaseAuthentication):
    """`?key=<feed key>` on the calendar feed only; a revoked role or a deactivated user stops it working."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        key = request.query_params.get("key")
        if not key:
            return None
        try:
            user_id = signing.Signer(salt=FEED_SALT).unsign(key)
        except signing.BadSignature as exc:
            raise exceptions.AuthenticationFailed("Invalid calendar feed key.") from exc
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid calendar feed key.")
        bind_actor(user)
        return user, None


class FeedKeyScheme(OpenApiAuthenticationExtension):
    """Describes `FeedKeyAuthentication` in the OpenAPI schema."""

    target_class = FeedKeyAuthentication
    name = "feedKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "query", "name": "key"}


class AnyAcceptNegotiation(DefaultContentNegotiation):
    """The feed answers text/calendar whatever it is asked for (calendar apps send `Accept: text/calendar`); DRF's
    renderers are only for its errors, which then fall back to JSON instead of a 406."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


class CalendarFeedApi(APIView):
    """iCalendar feed of maintenance in the next 90 days and freezes this year and next. Calendar apps subscribe
    with the personal URL shown on the calendar page (`?key=`); scripts may use a token or a session."""

    # Token first: its WWW-Authenticate header makes an anonymous request a 401, as everywhere in the API.
    authentication_classes = [ApiTokenAuthentication, FeedKeyAuthentication, authentication.SessionAuthentication]
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("key", str, description="Personal feed key from the calendar page.")],
        responses={(200, "text/calendar"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponse:
        now = timezone.now()
        entries = selectors.calendar_entries(start=now - timedelta(days=7), end=now + timedelta(days=90))
        year_start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        periods = selectors.freeze_periods(start=year_start, end=year_start.replace(year=now.year + 2))
        body = ical.feed(
            [
                (entry.occurrence, entry.uid, entry.start, entry.end, f"Maintenance: {entry.window.name}")
                for entry in entries
            ],
            periods,
            now=now,
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="broxiva-maintenance.ics"'
        return response


class FreezeRuleViewSet(viewsets.ModelViewSet):
    """Freeze rules as data; their dates are computed per year (Admins edit, everyone reads)."""

    queryset = FreezeRule.objects.select_related("created_by")
    serializer_class = FreezeRuleSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["kind", "level", "active"]

    def perform_create(self, serializer: FreezeRuleSerializer) -> None:
        serializer.instance = freeze_rule_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: FreezeRuleSerializer) -> None:
        serializer.instance = freeze_rule_update(
            rule=serializer.instance, actor=self.request.user, **serializer.validated_data
        )


class FreezePeriodListApi(APIView):
    """The freeze periods computed from the active rules for a range (default: the next 31 days)."""

    @extend_schema(parameters=[RangeInput], responses=FreezePeriodOutput(many=True))
    def get(self, request: Request) -> Response:
        span = _range(request)
        periods = selectors.freeze_periods(start=span["start"], end=span["end"], environment=span.get("environment"))
        return Response(FreezePeriodOutput(periods, many=True).data)


class FreezeCheckApi(APIView):
    """The deploy gate: may `change` deploy to `environment` at `at` (default now)? Authenticate with a token."""

    throttle_classes = [IntegrationRateThrottle]  # every pipeline asks, often all at once

    class FreezeCheckInput(FixedInput):
        environment = serializers.ChoiceField(choices=Environment.choices)
        at = AwareDateTimeField(required=False, help_text="ISO 8601 with offset; default: now.")
        change = fields.LineField(required=False, max_length=300, help_text="The change's id or link.")
        emergency = serializers.BooleanField(
            required=False, default=False, help_text="An emergency fix linked to `incident` (an open P1/P2)."
        )
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.select_related("severity"), required=False, allow_null=True,
            help_text="The incident an emergency answers.",
        )  # fmt: skip

    @extend_schema(parameters=[FreezeCheckInput], responses=FreezeStatusOutput)
    def get(self, request: Request) -> Response:
        payload = self.FreezeCheckInput(data=request.query_params)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        answer = policy.freeze_status(
            data["environment"], data.get("at") or timezone.now(), data.get("change"), emergency=data["emergency"],
            incident=data.get("incident"),
        )  # fmt: skip
        return Response(FreezeStatusOutput(vars(answer)).data)


class ExceptionListApi(generics.ListAPIView):
    """Freeze exceptions, newest first. POST requests one (Responders and above)."""

    serializer_class = ExceptionOutput
    filterset_class = ExceptionFilter

    class ExceptionListInput(serializers.Serializer):
        change = fields.LineField(max_length=300)
        reason = fields.TextField()
        environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PRODUCTION)
        starts_at = AwareDateTimeField()
        ends_at = AwareDateTimeField()
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.all(), required=False, allow_null=True,
            help_text="An emergency: the open P1/P2 it answers. Approved, it passes blocked freezes.",
        )  # fmt: skip

    def get_queryset(self) -> QuerySet[FreezeException]:
        return selectors.exception_list()

    def get_permissions(self) -> list:
        return [Responders()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(request=ExceptionListInput, responses={201: ExceptionOutput})
    def post(self, request: Request) -> Response:
        payload = self.ExceptionListInput(data=request.data)
        payload.is_valid(raise_exception=True)
        exception = freeze_exception_request(actor=request.user, **payload.validated_data)
        return Response(ExceptionOutput(exception).data, status=status.HTTP_201_CREATED)


class FreezePassListApi(generics.ListAPIView):
    """What went through a freeze in force (deployments, cluster actions, maintenance), newest first, with the pass
    that let it through."""

    serializer_class = FreezePassOutput
    filterset_class = FreezePassFilter

    def get_queryset(self) -> QuerySet[FreezePass]:
        return selectors.freeze_pass_list()


class ExceptionDecisionInput(serializers.Serializer):
    note = fields.LineField(required=False, allow_blank=True, default="", max_length=300)


class ExceptionApproveApi(APIView):
    """Approve a pending exception: an Incident Commander or Admin other than the requester."""

    permission_classes = [Commanders]
    approve = True

    @extend_schema(
        request=ExceptionDecisionInput,
        responses={200: ExceptionOutput, 409: error_response("The exception was decided already.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = ExceptionDecisionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        exception = get_object_or_404(FreezeException, pk=pk)
        decided = freeze_exception_decide(
            exception=exception, approve=self.approve, actor=request.user, **payload.validated_data
        )
        return Response(ExceptionOutput(selectors.exception_list().get(pk=decided.pk)).data)


class ExceptionRejectApi(ExceptionApproveApi):
    """Reject a pending exception: an Incident Commander or Admin other than the requester."""

    approve = False


class StatusPageApi(APIView):
    """The public status page as JSON: overall and per-service status, public incidents with their public updates,
    and maintenance in the next two weeks. No authentication."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(auth=[], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(status_page_data(selectors.status_page(now=timezone.now())))


class StatusSubscribeApi(APIView):
    """Ask for public status updates by email: a signed confirmation link is emailed; nothing is stored until it is
    confirmed. No authentication; API_THROTTLE_SUBSCRIBE per client address."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [SubscribeRateThrottle]

    class StatusSubscribeInput(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        services = serializers.SlugRelatedField(
            slug_field="slug", queryset=Service.objects.all(), many=True, required=False, default=list,
            help_text="Service slugs; none: every service.",
        )  # fmt: skip

    @extend_schema(
        auth=[],
        request=StatusSubscribeInput,
        responses={
            202: OpenApiTypes.OBJECT,
            400: error_response("A field is invalid, or email subscriptions are off (no enabled email channel)."),
        },
    )
    def post(self, request: Request) -> Response:
        payload = self.StatusSubscribeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        status_subscription_request(**payload.validated_data)
        return Response({"detail": "Confirmation link sent."}, status=status.HTTP_202_ACCEPTED)


class StatusTokenInput(serializers.Serializer):
    token = fields.LineField(max_length=2000, help_text="The signed token of the emailed link.")


class StatusConfirmApi(APIView):
    """Confirm a status-page subscription with the token of its emailed link (valid 3 days). No authentication."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class StatusConfirmOutput(serializers.Serializer):
        email = serializers.EmailField()
        services = serializers.ListField(child=serializers.CharField(), help_text="Service slugs; empty: all.")

    @extend_schema(
        auth=[],
        request=StatusTokenInput,
        responses={200: StatusConfirmOutput, 400: error_response("The token is invalid or expired (`field`: token).")},
    )
    def post(self, request: Request) -> Response:
        payload = StatusTokenInput(data=request.data)
        payload.is_valid(raise_exception=True)
        subscription = status_subscription_confirm(token=payload.validated_data["token"])
        services = [service.slug for service in subscription.services.all()]
        return Response(self.StatusConfirmOutput({"email": subscription.email, "services": services}).data)


class StatusUnsubscribeApi(APIView):
    """Delete a status-page subscription with the token of an email's unsubscribe link. No authentication."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        auth=[],
        request=StatusTokenInput,
        responses={204: None, 400: error_response("The token is invalid (`field`: token).")},
    )
    def post(self, request: Request) -> Response:
        payload = StatusTokenInput(data=request.data)
        payload.is_valid(raise_exception=True)
        status_subscription_cancel(token=payload.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


def _public_incident(incident: Incident, updates: int) -> dict[str, object]:
    return {
        "reference": incident.reference,
        "title": incident.title,
        "severity": incident.severity.code,
        "status": incident.status,
        "services": [service.name for service in incident.services.all()],
        "detected_at": incident.detected_at,
        "resolved_at": incident.resolved_at,
        "updates": [
            {"label": update.label, "posted_at": update.posted_at, "text": status_update_text(update)}
            for update in incident.public_updates[:updates]
        ],
    }


def status_page_data(page: selectors.StatusPage) -> dict[str, object]:
    return {
        "status": page.overall,
        "status_label": page.overall_label,
        "services": [
            {
                "name": row.service.name,
                "slug": row.service.slug,
                "status": row.status,
                "status_label": row.status_label,
                "uptime_percent": round(row.uptime_percent, 3),
                "uptime_days": [
                    {"date": day.day, "uptime_percent": round(day.percent, 3), "down_minutes": day.down_minutes}
                    for day in row.days
                ],
            }
            for row in page.services
        ],
        "incidents": [_public_incident(incident, selectors.STATUS_PAGE_UPDATES) for incident in page.incidents],
        "past_incidents": [_public_incident(incident, 1) for incident in page.past_incidents],
        "maintenance": [
            {
                "name": entry.window.name,
                "starts_at": entry.start,
                "ends_at": entry.end,
                "status": entry.status,
                "services": [service.name for service in entry.window.services.all()],
                "expected_impact": entry.occurrence.expected_impact
                if entry.occurrence
                else entry.window.expected_impact,
            }
            for entry in page.maintenance
        ],
    }
