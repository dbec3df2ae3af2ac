"""The incident REST API: reads for Viewers, notes and updates for Responders, the rest for Incident Commanders."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import policy
from incidents.api.serializers import (
    ActionItemOutput,
    EscalationLevelSerializer,
    EscalationPolicySerializer,
    IncidentOutput,
    ReviewOutput,
    ServiceSerializer,
    SeveritySerializer,
    StatusUpdateOutput,
    TimelineEventOutput,
)
from incidents.escalation import incident_escalate
from incidents.filters import IncidentFilter
from incidents.models import (
    ActionItem,
    EscalationLevel,
    EscalationPolicy,
    Incident,
    Service,
    Severity,
    StatusUpdate,
    TimelineEvent,
)
from incidents.policy import update_draft
from incidents.selectors import fill_incident_rows, incident_row, incident_rows, review_detail
from incidents.services import (
    action_item_add,
    action_item_update,
    incident_acknowledge,
    incident_add_note,
    incident_assign,
    incident_assign_role,
    incident_change_severity,
    incident_declare,
    incident_flag,
    incident_post_update,
    incident_transition,
    incident_update_details,
    review_for,
    review_publish,
    review_update,
    status_update_preview,
    status_update_text,
)
from portal.accounts.models import User
from portal.accounts.permissions import role_permission, writes_need
from portal.accounts.roles import Role, has_role
from portal.core.api import fields
from portal.core.api.schema import error_response

Responders = role_permission(Role.RESPONDER)
Commanders = role_permission(Role.INCIDENT_COMMANDER)
STALE = error_response("The incident changed since the `version` sent: read it again.")


def _incident(pk: int) -> Incident:
    return get_object_or_404(Incident, pk=pk)


def _out(incident: Incident, status_code: int = 200) -> Response:
    return Response(IncidentOutput(incident_row(incident.pk)).data, status=status_code)


class Version(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="The version you last read; a newer one on the server is a 409."
    )


class SeverityViewSet(viewsets.ModelViewSet):
    """P1-P4 and their targets; Admins may tune the numbers."""

    queryset = Severity.objects.all()
    serializer_class = SeveritySerializer
    permission_classes = [writes_need(Role.ADMIN)]
    http_method_names = ["get", "patch", "head", "options"]


class ServiceViewSet(viewsets.ModelViewSet):
    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    lookup_field = "slug"
    filterset_fields = ["tier", "owner_team"]


class EscalationPolicyViewSet(viewsets.ModelViewSet):
    """Escalation policies (Admins edit; incidents already open keep the policy they started with)."""

    queryset = EscalationPolicy.objects.prefetch_related("levels__users", "levels__group", "services")
    serializer_class = EscalationPolicySerializer
    permission_classes = [writes_need(Role.ADMIN)]


class EscalationLevelViewSet(viewsets.ModelViewSet):
    queryset = EscalationLevel.objects.select_related("group", "policy").prefetch_related("users")
    serializer_class = EscalationLevelSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["policy"]


class IncidentListApi(generics.ListAPIView):
    """Incidents, newest first. POST declares one (Responders and above)."""

    serializer_class = IncidentOutput
    filterset_class = IncidentFilter

    class IncidentListInput(serializers.Serializer):
        title = fields.LineField(max_length=200)
        severity = serializers.SlugRelatedField(slug_field="code", queryset=Severity.objects.all())
        services = serializers.SlugRelatedField(
            slug_field="slug", queryset=Service.objects.all(), many=True, required=False
        )
        impact_summary = fields.TextField(required=False, allow_blank=True, default="")
        commander = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True),
                                                 required=False, allow_null=True)  # fmt: skip
        is_public = serializers.BooleanField(required=False, default=False)
        flags = serializers.ListField(child=serializers.ChoiceField(choices=Incident.Flag.choices), required=False)
        detected_at = fields.DateTimeField(required=False)

    def get_queryset(self) -> QuerySet[Incident]:
        return Incident.objects.all()

    def read_page(self, page: QuerySet[Incident]) -> list[dict]:
        """The page's rows as values (see PageNumberPagination), counted without `incident_rows`' joins."""
        return fill_incident_rows(list(incident_rows(page)))

    def get_permissions(self) -> list:
        return [Responders()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(request=IncidentListInput, responses={201: IncidentOutput})
    def post(self, request: Request) -> Response:
        payload = self.IncidentListInput(data=request.data)
        payload.is_valid(raise_exception=True)
        incident = incident_declare(reporter=request.user, **payload.validated_data)
        return _out(incident, status.HTTP_201_CREATED)


class IncidentDetailApi(APIView):
    """One incident; PATCH changes title, impact, services or visibility (Incident Commanders)."""

    class IncidentDetailInput(Version):
        title = fields.LineField(max_length=200, required=False)
        impact_summary = fields.TextField(required=False, allow_blank=True)
        services = serializers.SlugRelatedField(
            slug_field="slug", queryset=Service.objects.all(), many=True, required=False
        )
        is_public = serializers.BooleanField(required=False)

    def get_permissions(self) -> list:
        return [Commanders()] if self.request.method == "PATCH" else super().get_permissions()

    @extend_schema(responses=IncidentOutput)
    def get(self, request: Request, pk: int) -> Response:
        if (row := incident_row(pk)) is None:
            raise NotFound("No Incident matches the given query.")
        return Response(IncidentOutput(row).data)

    @extend_schema(
        request=IncidentDetailInput,
        responses={200: IncidentOutput, 400: error_response("A field is invalid (named in `field`)."), 409: STALE},
    )
    def patch(self, request: Request, pk: int) -> Response:
        payload = self.IncidentDetailInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _out(incident_update_details(incident=_incident(pk), actor=request.user, **payload.validated_data))


class IncidentAcknowledgeApi(APIView):
    permission_classes = [Responders]

    @extend_schema(
        request=Version,
        responses={200: IncidentOutput, 409: error_response("Already acknowledged, or changed since `version`.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = Version(data=request.data)
        payload.is_valid(raise_exception=True)
        return _out(incident_acknowledge(incident=_incident(pk), actor=request.user, **payload.validated_data))


class IncidentTransitionApi(APIView):
    """Move the incident along its lifecycle; a 400 lists the allowed next states."""

    permission_classes = [Commanders]

    class IncidentTransitionInput(Version):
        to_status = serializers.ChoiceField(choices=Incident.Status.choices)
        note = fields.TextField(required=False, allow_blank=True, default="")
        confirm = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Resolve a P1/P2 anyway that was mitigated less than an hour ago, or never monitored.",
        )
        final_update = fields.TextField(
            required=False, allow_blank=True, default="",
            help_text="Resolving a public incident: its final public update (Resolved), unless the newest public "
            "update already is one. Without it a 400 names `final_update` and carries a `draft`.",
        )  # fmt: skip

    @extend_schema(
        request=IncidentTransitionInput,
        responses={
            200: IncidentOutput,
            400: error_response(
                "Not an allowed next state (`allowed` lists them), or a public incident resolved without "
                "`final_update` (`field` is then `final_update`, with a `draft`)."
            ),
            409: error_response(
                "The incident changed since the `version` sent, or a P1/P2 mitigated less than an hour ago (or never "
                "monitored) is resolved without `confirm` (`field` is then `confirm`)."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentTransitionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _out(incident_transition(incident=_incident(pk), actor=request.user, **payload.validated_data))


class IncidentSeverityApi(APIView):
    permission_classes = [Commanders]

    class IncidentSeverityInput(Version):
        severity = serializers.SlugRelatedField(slug_field="code", queryset=Severity.objects.all())
        reason = fields.TextField()

    @extend_schema(request=IncidentSeverityInput, responses={200: IncidentOutput, 409: STALE})
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentSeverityInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _out(incident_change_severity(incident=_incident(pk), actor=request.user, **payload.validated_data))


class IncidentAssignApi(APIView):
    permission_classes = [Commanders]

    class IncidentAssignInput(Version):
        commander = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))

    @extend_schema(request=IncidentAssignInput, responses={200: IncidentOutput, 409: STALE})
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentAssignInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _out(incident_assign(incident=_incident(pk), actor=request.user, **payload.validated_data))


class IncidentRoleApi(APIView):
    """Give an incident role (commander, communications lead, operations lead, scribe) to a Responder, or leave a
    role other than the commander's empty with `user: null` (Incident Commanders)."""

    permission_classes = [Commanders]

    class IncidentRoleInput(Version):
        role = serializers.ChoiceField(choices=Incident.Role.choices)
        user = serializers.SlugRelatedField(
            slug_field="username", queryset=User.objects.filter(is_active=True), allow_null=True
        )

    @extend_schema(
        request=IncidentRoleInput,
        responses={
            200: IncidentOutput,
            400: error_response("Unknown role or user, a user who is not a Responder, or no commander named."),
            409: error_response("That person already holds the role, or the incident changed since `version`."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentRoleInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _out(incident_assign_role(incident=_incident(pk), actor=request.user, **payload.validated_data))


class IncidentFlagApi(APIView):
    """Record an immediate-escalation reason (service down, data breach, ...); raises the incident to P1."""

    permission_classes = [Responders]

    class IncidentFlagInput(serializers.Serializer):
        flag = serializers.ChoiceField(choices=Incident.Flag.choices)

    @extend_schema(
        request=IncidentFlagInput,
        responses={200: IncidentOutput, 409: error_response("The incident has that flag already.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentFlagInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _out(incident_flag(incident=_incident(pk), actor=request.user, **payload.validated_data))


class IncidentEscalateApi(APIView):
    """Page the next escalation level now, with a reason (Incident Commanders)."""

    permission_classes = [Commanders]

    class IncidentEscalateInput(serializers.Serializer):
        reason = fields.LineField(max_length=300)

    @extend_schema(request=IncidentEscalateInput, responses=IncidentOutput)
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentEscalateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        incident_escalate(incident=_incident(pk), actor=request.user, **payload.validated_data)
        return _out(_incident(pk))


class IncidentStatusUpdatesApi(APIView):
    """Status updates in the seeds' template; posting one resets the update timer (Responders and above)."""

    class IncidentStatusUpdatesInput(serializers.Serializer):
        label = serializers.ChoiceField(choices=StatusUpdateOutput.Meta.model.Label.choices)
        description = fields.TextField()
        impact = fields.TextField(required=False, allow_blank=True, default="")
        next_update_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10080)
        is_public = serializers.BooleanField(
            required=False, allow_null=True, default=None,
            help_text="On the status page and emailed to its subscribers. Omitted: internal for Responders, the "
            "incident's visibility for Incident Commanders. A public update needs a public incident.",
        )  # fmt: skip

    def get_permissions(self) -> list:
        return [Responders()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(responses=StatusUpdateOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        updates = _incident(pk).status_updates.select_related("author")
        return Response(StatusUpdateOutput(updates, many=True).data)

    @extend_schema(
        request=IncidentStatusUpdatesInput,
        responses={
            201: StatusUpdateOutput,
            400: error_response("A field is invalid; `is_public` on an internal incident."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentStatusUpdatesInput(data=request.data)
        payload.is_valid(raise_exception=True)
        update = incident_post_update(incident=_incident(pk), actor=request.user, **payload.validated_data)
        return Response(StatusUpdateOutput(update).data, status=status.HTTP_201_CREATED)


class IncidentStatusUpdatePreviewApi(APIView):
    """What the status page would show for this update, posting nothing, and the template's draft per status (the
    page's preview and drafts). Responders and above."""

    permission_classes = [Responders]

    class IncidentStatusUpdatePreviewInput(serializers.Serializer):
        label = serializers.ChoiceField(choices=StatusUpdate.Label.choices)
        description = fields.TextField(required=False, allow_blank=True, default="")
        impact = fields.TextField(required=False, allow_blank=True, default="")
        next_update_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10080)

    class IncidentStatusUpdatePreviewOutput(serializers.Serializer):
        text = serializers.CharField(help_text="The update in the status page's template.")
        drafts = serializers.DictField(child=serializers.CharField(), help_text="The draft description per status.")

    @extend_schema(request=IncidentStatusUpdatePreviewInput, responses={200: IncidentStatusUpdatePreviewOutput})
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentStatusUpdatePreviewInput(data=request.data)
        payload.is_valid(raise_exception=True)
        incident = _incident(pk)
        update = status_update_preview(incident=incident, **payload.validated_data)
        drafts = {label: update_draft(incident, label) for label in StatusUpdate.Label.values}
        return Response(
            self.IncidentStatusUpdatePreviewOutput({"text": status_update_text(update), "drafts": drafts}).data
        )


class IncidentTimelineApi(generics.ListAPIView):
    """The incident's timeline in order; POST adds a note (Responders and above)."""

    serializer_class = TimelineEventOutput

    class IncidentTimelineInput(serializers.Serializer):
        text = fields.TextField()

    def get_queryset(self) -> QuerySet[TimelineEvent]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no incident
            return TimelineEvent.objects.none()
        return _incident(self.kwargs["pk"]).timeline.select_related("actor")

    def get_permissions(self) -> list:
        return [Responders()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(request=IncidentTimelineInput, responses={201: TimelineEventOutput})
    def post(self, request: Request, pk: int) -> Response:
        payload = self.IncidentTimelineInput(data=request.data)
        payload.is_valid(raise_exception=True)
        event = incident_add_note(incident=_incident(pk), actor=request.user, **payload.validated_data)
        return Response(TimelineEventOutput(event).data, status=status.HTTP_201_CREATED)


class ReviewApi(APIView):
    """The post-incident review (opened once the incident is resolved); PATCH edits the draft (Incident Commanders)."""

    class ReviewInput(Version):
        facts = fields.TextField(required=False, allow_blank=True)
        summary = fields.TextField(required=False, allow_blank=True)
        root_cause = fields.TextField(required=False, allow_blank=True)
        contributing_factors = fields.TextField(required=False, allow_blank=True)
        scheduled_for = fields.DateTimeField(required=False)

    def get_permissions(self) -> list:
        return [Commanders()] if self.request.method == "PATCH" else super().get_permissions()

    @extend_schema(responses={200: ReviewOutput, 400: error_response("The incident is not resolved yet.")})
    def get(self, request: Request, pk: int) -> Response:
        review = review_for(incident=_incident(pk))
        return Response(ReviewOutput(review_detail().get(pk=review.pk)).data)

    @extend_schema(
        request=ReviewInput,
        responses={200: ReviewOutput, 409: error_response("The review is published, or changed since `version`.")},
    )
    def patch(self, request: Request, pk: int) -> Response:
        payload = self.ReviewInput(data=request.data)
        payload.is_valid(raise_exception=True)
        review = review_update(review=review_for(incident=_incident(pk)), actor=request.user, **payload.validated_data)
        return Response(ReviewOutput(review_detail().get(pk=review.pk)).data)


class ReviewPublishApi(APIView):
    permission_classes = [Commanders]

    @extend_schema(
        request=None,
        responses={
            200: ReviewOutput,
            400: error_response("The incident is not resolved, or the review lacks a section it needs."),
            409: error_response("The review is published already."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        review = review_publish(review=review_for(incident=_incident(pk)), actor=request.user)
        return Response(ReviewOutput(review_detail().get(pk=review.pk)).data)


class ActionItemsApi(APIView):
    permission_classes = [Commanders]

    class ActionItemsInput(serializers.Serializer):
        title = fields.LineField(max_length=200)
        owner = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
        due_date = fields.DateField()
        ticket_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(
        request=ActionItemsInput,
        responses={
            201: ActionItemOutput,
            400: error_response("A field is invalid, or the incident is not resolved yet."),
            409: error_response("The review is published: track the work elsewhere."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.ActionItemsInput(data=request.data)
        payload.is_valid(raise_exception=True)
        item = action_item_add(review=review_for(incident=_incident(pk)), actor=request.user, **payload.validated_data)
        return Response(ActionItemOutput(item).data, status=status.HTTP_201_CREATED)


class ActionItemApi(APIView):
    """Edit an action item, close it (`status: done`) or link its ticket. Responders move the status and the ticket;
    the title, owner and due date need an Incident Commander. After publication the title stays as published."""

    permission_classes = [Responders]

    class ActionItemInput(serializers.Serializer):
        title = fields.LineField(max_length=200, required=False)
        owner = serializers.SlugRelatedField(
            slug_field="username", queryset=User.objects.filter(is_active=True), required=False
        )
        due_date = fields.DateField(required=False)
        status = serializers.ChoiceField(choices=ActionItem.Status.choices, required=False)
        ticket_url = serializers.URLField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        request=ActionItemInput,
        responses={
            200: ActionItemOutput,
            400: error_response("A field is invalid (named in `field`)."),
            403: error_response("Changing the title, owner or due date needs the Incident Commander role."),
            404: error_response("No such action item on this incident."),
            409: error_response("The review is published and the title was changed."),
        },
    )
    def patch(self, request: Request, pk: int, item_pk: int) -> Response:
        payload = self.ActionItemInput(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = payload.validated_data
        if set(changes) - policy.ACTION_ITEM_TRACKING_FIELDS and not has_role(request.user, Role.INCIDENT_COMMANDER):
            raise PermissionDenied("An action item's title, owner and due date are for Incident Commanders to change.")
        item = get_object_or_404(ActionItem, pk=item_pk, review__incident_id=pk)
        return Response(ActionItemOutput(action_item_update(item=item, actor=request.user, **changes)).data)
