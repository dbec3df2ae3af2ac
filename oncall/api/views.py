"""The on-call REST API: who is on call, rotations (Admins write), overrides, swaps, handoffs and calendar feeds.

Who may change an override, decide a swap or tick a checklist item depends on the rotation and the person, so the
services decide (403 naming the field); the permission classes here only set the floor.
"""

import hashlib
from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Service
from oncall.api.serializers import (
    FeedIssuedOutput,
    FeedOutput,
    HandoffItemOutput,
    HandoffOutput,
    InstantField,
    OnCallOutput,
    OverrideOutput,
    RotationOutput,
    SegmentOutput,
    SwapOutput,
    VersionOutput,
)
from oncall.filters import HandoffFilter, OverrideFilter, RotationFilter, SwapFilter
from oncall.models import CalendarFeed, Handoff, HandoffItem, Layer, Override, Rotation, RotationVersion, Swap
from oncall.schedule import LAYERS
from oncall.selectors import (
    ONCALL_NOW,
    OnCall,
    handoff_list,
    oncall_for_until,
    override_list,
    rotation_detail,
    rotation_list,
    rotation_schedule,
    with_versions,
)
from oncall.services import (
    calendar_feed_issue,
    calendar_feed_revoke,
    handoff_item_set,
    handoff_test_page,
    override_create,
    override_delete,
    override_update,
    rotation_archive,
    rotation_create,
    rotation_update,
    rotation_version_add,
    swap_accept,
    swap_cancel,
    swap_decline,
    swap_request,
)
from portal.accounts.models import User
from portal.accounts.permissions import writes_need
from portal.accounts.roles import Role
from portal.core.api import fields
from portal.core.api.schema import error_response

MAX_SCHEDULE_RANGE = timedelta(days=92)


def _people_field(**kwargs: object) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), many=True, **kwargs)


def _rotations() -> QuerySet[Rotation]:
    return with_versions(rotation_list())


class OnCallNowApi(generics.ListAPIView):
    """Every rotation in service with its current primary and secondary, their contact methods and until when."""

    serializer_class = OnCallOutput
    filterset_class = RotationFilter

    def get_queryset(self) -> QuerySet[Rotation]:
        return _rotations()

    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        now = timezone.now()

        def answer() -> tuple[dict, datetime]:
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            rows, until = oncall_for_until(page if page is not None else [], at=now)
            return self.get_paginated_response(OnCallOutput(rows, many=True).data).data, until

        key = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
        body = ONCALL_NOW.get_or_compute(key, answer, now=now)
        at = serializers.DateTimeField().to_representation(now)
        return Response({**body, "results": [{**row, "at": at} for row in body["results"]]})


class RotationListApi(generics.ListAPIView):
    """Rotations in service. POST creates one with its first schedule version (Admins)."""

    serializer_class = RotationOutput
    filterset_class = RotationFilter
    permission_classes = [writes_need(Role.ADMIN)]

    class RotationListInput(serializers.Serializer):
        name = fields.LineField(max_length=100)
        description = fields.TextField(required=False, allow_blank=True, default="")
        lead = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True),
                                            required=False, allow_null=True)  # fmt: skip
        services = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), many=True,
                                                required=False)  # fmt: skip
        timezone = fields.LineField(max_length=64, required=False, default="UTC")
        handoff_rrule = fields.LineField(max_length=200, required=False, default="FREQ=WEEKLY;BYDAY=MO")
        handoff_time = serializers.TimeField(required=False, default=time(9))
        start_date = fields.DateField()
        participants = _people_field()
        secondary_participants = _people_field(required=False)

    def get_queryset(self) -> QuerySet[Rotation]:
        return _rotations()

    def get_serializer_context(self) -> dict[str, object]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(request=RotationListInput, responses={201: RotationOutput})
    def post(self, request: Request) -> Response:
        payload = self.RotationListInput(data=request.data)
        payload.is_valid(raise_exception=True)
        rotation = rotation_create(actor=request.user, **payload.validated_data)
        return Response(
            RotationOutput(_rotations().get(pk=rotation.pk), context={"now": timezone.now()}).data,
            status=status.HTTP_201_CREATED,
        )


class RotationDetailApi(APIView):
    """One rotation. PATCH changes details in place and the schedule as a new version from `effective_from`
    (default: the next handoff; never the past). DELETE archives it: history stays (Admins)."""

    permission_classes = [writes_need(Role.ADMIN)]

    class RotationDetailInput(serializers.Serializer):
        name = fields.LineField(max_length=100, required=False)
        description = fields.TextField(required=False, allow_blank=True)
        lead = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True),
                                            required=False, allow_null=True)  # fmt: skip
        services = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), many=True,
                                                required=False)  # fmt: skip
        effective_from = InstantField(required=False)
        timezone = fields.LineField(max_length=64, required=False)
        handoff_rrule = fields.LineField(max_length=200, required=False)
        handoff_time = serializers.TimeField(required=False)
        start_date = fields.DateField(required=False)
        participants = _people_field(required=False)
        secondary_participants = _people_field(required=False)
        note = fields.LineField(max_length=200, required=False, allow_blank=True, default="")

    DETAILS = ("name", "description", "lead", "services")
    SCHEDULE = ("effective_from", "timezone", "handoff_rrule", "handoff_time", "start_date", "participants",
                "secondary_participants")  # fmt: skip

    def _out(self, pk: int) -> Response:
        rotation = get_object_or_404(with_versions(rotation_detail()), pk=pk)  # archived too: read by id, history stays
        return Response(RotationOutput(rotation, context={"now": timezone.now()}).data)

    @extend_schema(responses=RotationOutput)
    def get(self, request: Request, pk: int) -> Response:
        return self._out(pk)

    @extend_schema(request=RotationDetailInput, responses=RotationOutput)
    def patch(self, request: Request, pk: int) -> Response:
        rotation = get_object_or_404(Rotation, pk=pk)
        payload = self.RotationDetailInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        details = {key: data[key] for key in self.DETAILS if key in data}
        schedule = {key: data[key] for key in self.SCHEDULE if key in data}
        with transaction.atomic():
            if details:
                rotation_update(rotation=rotation, actor=request.user, clear_lead="lead" in details and
                                details["lead"] is None, **details)  # fmt: skip
            if schedule:
                rotation_version_add(rotation=rotation, actor=request.user, note=data["note"], **schedule)
        return self._out(pk)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        rotation_archive(rotation=get_object_or_404(Rotation, pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotationVersionsApi(generics.ListAPIView):
    """The rotation's schedule versions, oldest first: each governs from its `effective_from` to the next."""

    serializer_class = VersionOutput

    def get_queryset(self) -> QuerySet[RotationVersion]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no rotation
            return RotationVersion.objects.none()
        rotation = get_object_or_404(Rotation, pk=self.kwargs["pk"])
        return rotation.versions.prefetch_related("participants__user").select_related("created_by")


class RotationOnCallApi(APIView):
    """Who holds the primary and secondary layers at `at` (default now): past, present or future, across DST."""

    class RotationOnCallQuery(serializers.Serializer):
        at = InstantField(required=False)

    @extend_schema(
        parameters=[OpenApiParameter("at", OpenApiTypes.DATETIME, description="ISO 8601 with a UTC offset.")],
        responses=OnCallOutput,
    )
    def get(self, request: Request, pk: int) -> Response:
        query = self.RotationOnCallQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or timezone.now()
        rotation = get_object_or_404(Rotation, pk=pk)
        schedule = rotation_schedule(rotation, start=at, end=at + timedelta(microseconds=1))
        answer = OnCall(rotation=rotation, at=at, primary=schedule.at(layer=Layer.PRIMARY, at=at),
                        secondary=schedule.at(layer=Layer.SECONDARY, at=at))  # fmt: skip
        return Response(OnCallOutput(answer).data)


class RotationScheduleApi(APIView):
    """The effective schedule (overrides and swaps applied) for [start, end), at most 92 days, both layers."""

    class RotationScheduleQuery(serializers.Serializer):
        start = InstantField()
        end = InstantField()

        def validate(self, attrs: dict[str, datetime]) -> dict[str, datetime]:
            if attrs["end"] <= attrs["start"]:
                raise serializers.ValidationError({"end": "must be after start."})
            if attrs["end"] - attrs["start"] > MAX_SCHEDULE_RANGE:
                raise serializers.ValidationError({"end": "at most 92 days after start."})
            return attrs

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("end", OpenApiTypes.DATETIME, required=True),
        ],
        responses=SegmentOutput(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        query = self.RotationScheduleQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rotation = get_object_or_404(Rotation, pk=pk)
        schedule = rotation_schedule(rotation, **query.validated_data)
        segments = sorted((s for layer in LAYERS for s in schedule.segments(layer=layer)), key=lambda s: s.start)
        return Response(SegmentOutput(segments, many=True).data)


class OverrideListApi(generics.ListAPIView):
    """Overrides, earliest first. POST adds one (Admins, or the rotation's people with the Responder role)."""

    serializer_class = OverrideOutput
    filterset_class = OverrideFilter
    permission_classes = [writes_need(Role.RESPONDER)]

    class OverrideListInput(serializers.Serializer):
        rotation = serializers.PrimaryKeyRelatedField(queryset=Rotation.objects.all())
        layer = serializers.ChoiceField(choices=Layer.choices, required=False, default=Layer.PRIMARY)
        user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all())
        start = InstantField()
        end = InstantField()
        reason = fields.LineField(max_length=200, required=False, allow_blank=True, default="")

    def get_queryset(self) -> QuerySet[Override]:
        return override_list()

    @extend_schema(request=OverrideListInput, responses={201: OverrideOutput})
    def post(self, request: Request) -> Response:
        payload = self.OverrideListInput(data=request.data)
        payload.is_valid(raise_exception=True)
        override = override_create(actor=request.user, **payload.validated_data)
        return Response(OverrideOutput(override).data, status=status.HTTP_201_CREATED)


class OverrideDetailApi(APIView):
    """One override. PATCH changes one that has not ended (once started, only its end); DELETE withdraws one that
    has not started."""

    permission_classes = [writes_need(Role.RESPONDER)]

    class OverrideDetailInput(serializers.Serializer):
        user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), required=False)
        start = InstantField(required=False)
        end = InstantField(required=False)
        reason = fields.LineField(max_length=200, required=False, allow_blank=True)

    @extend_schema(responses=OverrideOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(OverrideOutput(get_object_or_404(override_list(), pk=pk)).data)

    @extend_schema(request=OverrideDetailInput, responses=OverrideOutput)
    def patch(self, request: Request, pk: int) -> Response:
        payload = self.OverrideDetailInput(data=request.data)
        payload.is_valid(raise_exception=True)
        override = override_update(override=get_object_or_404(Override, pk=pk), actor=request.user,
                                   **payload.validated_data)  # fmt: skip
        return Response(OverrideOutput(override).data)

    @extend_schema(responses={204: None, 400: error_response("The override has started: set its end instead.")})
    def delete(self, request: Request, pk: int) -> Response:
        override_delete(override=get_object_or_404(Override, pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _swaps() -> QuerySet[Swap]:
    return Swap.objects.select_related("requester", "counterparty", "decided_by")


class SwapListApi(generics.ListAPIView):
    """Swaps, newest first. POST asks to trade one of your planned shifts for someone else's (people on the
    rotation); the other party or an Admin accepts."""

    serializer_class = SwapOutput
    filterset_class = SwapFilter

    class SwapListInput(serializers.Serializer):
        rotation = serializers.PrimaryKeyRelatedField(queryset=Rotation.objects.all())
        layer = serializers.ChoiceField(choices=Layer.choices, required=False, default=Layer.PRIMARY)
        shift_start = InstantField(help_text="Start of your planned shift.")
        counterparty = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all())
        counterparty_shift_start = InstantField(help_text="Start of their planned shift.")
        note = fields.LineField(max_length=200, required=False, allow_blank=True, default="")

    def get_queryset(self) -> QuerySet[Swap]:
        return _swaps()

    @extend_schema(request=SwapListInput, responses={201: SwapOutput})
    def post(self, request: Request) -> Response:
        payload = self.SwapListInput(data=request.data)
        payload.is_valid(raise_exception=True)
        swap = swap_request(requester=request.user, **payload.validated_data)
        return Response(SwapOutput(swap).data, status=status.HTTP_201_CREATED)


class SwapDetailApi(generics.RetrieveAPIView):
    serializer_class = SwapOutput

    def get_queryset(self) -> QuerySet[Swap]:
        return _swaps()


SWAP_DECIDED = error_response("The swap was decided already.")


class _SwapDecisionApi(APIView):
    decide = staticmethod(swap_accept)

    @extend_schema(request=None, responses={200: SwapOutput, 409: SWAP_DECIDED})
    def post(self, request: Request, pk: int) -> Response:
        swap = self.decide(swap=get_object_or_404(Swap, pk=pk), actor=request.user)
        return Response(SwapOutput(_swaps().get(pk=swap.pk)).data)


@extend_schema_view(
    post=extend_schema(
        request=None,
        responses={
            200: SwapOutput,
            400: error_response(
                "The schedule changed since the request: a shift is no longer planned as it was, or the trade would "
                "make someone primary and secondary at once."
            ),
            409: SWAP_DECIDED,
        },
    )
)
class SwapAcceptApi(_SwapDecisionApi):
    """The other party or an Admin accepts: the trade becomes two overrides."""


class SwapDeclineApi(_SwapDecisionApi):
    decide = staticmethod(swap_decline)


class SwapCancelApi(_SwapDecisionApi):
    """The requester (or an Admin) withdraws a pending swap."""

    decide = staticmethod(swap_cancel)


class HandoffListApi(generics.ListAPIView):
    """Handoffs of the primary pager, newest first, with both checklists."""

    serializer_class = HandoffOutput
    filterset_class = HandoffFilter

    def get_queryset(self) -> QuerySet[Handoff]:
        return handoff_list()


class HandoffDetailApi(generics.RetrieveAPIView):
    serializer_class = HandoffOutput

    def get_queryset(self) -> QuerySet[Handoff]:
        return handoff_list()


class HandoffItemApi(APIView):
    """Tick or untick a checklist item: the outgoing person their items, the incoming person theirs."""

    class HandoffItemInput(serializers.Serializer):
        done = serializers.BooleanField()

    @extend_schema(
        request=HandoffItemInput,
        responses={
            200: HandoffItemOutput,
            409: error_response("The handoff is acknowledged: its checklist is closed."),
        },
    )
    def patch(self, request: Request, pk: int, item_pk: int) -> Response:
        payload = self.HandoffItemInput(data=request.data)
        payload.is_valid(raise_exception=True)
        item = get_object_or_404(HandoffItem, pk=item_pk, handoff_id=pk)
        item = handoff_item_set(item=item, actor=request.user, **payload.validated_data)
        return Response(HandoffItemOutput(item).data)


class HandoffTestPageApi(APIView):
    """Send a real test page through the incoming person's pager, email and phone (the incoming person only); the
    "Test PagerDuty notifications" item ticks itself once every one is delivered."""

    @extend_schema(
        request=None,
        responses={
            200: HandoffItemOutput,
            400: error_response("Only the test-notifications item sends a test page."),
            409: error_response("The item is ticked already."),
        },
    )
    def post(self, request: Request, pk: int, item_pk: int) -> Response:
        item = get_object_or_404(HandoffItem, pk=item_pk, handoff_id=pk)
        return Response(HandoffItemOutput(handoff_test_page(item=item, actor=request.user)).data)


class FeedListApi(generics.ListAPIView):
    """Your calendar feeds. POST issues one (a rotation's shifts, or without `rotation` your own); issuing again
    for the same rotation regenerates it and the old URL stops working. The URL is in the answer once."""

    serializer_class = FeedOutput

    class FeedListInput(serializers.Serializer):
        rotation = serializers.PrimaryKeyRelatedField(queryset=Rotation.objects.all(), required=False,
                                                      allow_null=True)  # fmt: skip

    def get_queryset(self) -> QuerySet[CalendarFeed]:
        return CalendarFeed.objects.filter(owner_id=self.request.user.pk).select_related("owner")

    @extend_schema(request=FeedListInput, responses={201: FeedIssuedOutput})
    def post(self, request: Request) -> Response:
        payload = self.FeedListInput(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = calendar_feed_issue(owner=request.user, rotation=payload.validated_data.get("rotation"))
        body = FeedOutput(issued.feed).data
        body["url"] = request.build_absolute_uri(reverse("oncall-calendar", args=[issued.token]))
        return Response(body, status=status.HTTP_201_CREATED)


class FeedDetailApi(APIView):
    """Revoke a feed (its owner or an Admin): its URL answers 404 from then on."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        calendar_feed_revoke(feed=get_object_or_404(CalendarFeed, pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
