from axes.models import AccessAttempt
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.models import ApiToken, User
from portal.accounts.permissions import role_permission
from portal.accounts.roles import Role, user_roles
from portal.accounts.selectors import Lockout, api_tokens, login_lockouts
from portal.accounts.services import api_token_create, api_token_revoke, login_lockout_release, user_update_contact
from portal.core.api import fields
from portal.core.api.schema import error_response


class MeApi(APIView):
    """The authenticated user; PATCH changes their own contact methods."""

    class Output(serializers.Serializer):
        username = serializers.CharField()
        email = serializers.EmailField(allow_blank=True)
        full_name = serializers.CharField(source="get_full_name")
        phone = serializers.CharField()
        chat_handle = serializers.CharField()
        roles = serializers.SerializerMethodField()

        def get_roles(self, user: User) -> list[str]:
            return [role.value for role in Role if role in user_roles(user)]

    class MeInput(serializers.Serializer):
        email = serializers.EmailField(required=False, allow_blank=True)
        phone = fields.LineField(required=False, allow_blank=True, max_length=16)
        chat_handle = fields.LineField(required=False, allow_blank=True, max_length=81)

    @extend_schema(responses=Output)
    def get(self, request: Request) -> Response:
        return Response(self.Output(request.user).data)

    @extend_schema(request=MeInput, responses=Output)
    def patch(self, request: Request) -> Response:
        payload = self.MeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        user = user_update_contact(user=request.user, **payload.validated_data)
        return Response(self.Output(user).data)


class TokenOutput(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]


class TokenListCreateApi(generics.ListAPIView):
    """API tokens (Admin only). POST issues one; its key is in the response once and never again."""

    permission_classes = [role_permission(Role.ADMIN)]
    serializer_class = TokenOutput
    filterset_fields = ["user__username"]

    class TokenListCreateInput(serializers.Serializer):
        user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
        name = fields.LineField(max_length=100)

    class CreatedOutput(TokenOutput):
        key = serializers.CharField()

        class Meta(TokenOutput.Meta):
            fields = [*TokenOutput.Meta.fields, "key"]

    def get_queryset(self) -> QuerySet[ApiToken]:
        return api_tokens()

    @extend_schema(request=TokenListCreateInput, responses={201: CreatedOutput})
    def post(self, request: Request) -> Response:
        payload = self.TokenListCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = api_token_create(**payload.validated_data, created_by=request.user)
        issued.token.key = issued.key
        return Response(self.CreatedOutput(issued.token).data, status=status.HTTP_201_CREATED)


class TokenRevokeApi(APIView):
    permission_classes = [role_permission(Role.ADMIN)]

    @extend_schema(request=None, responses={200: TokenOutput, 409: error_response("The token is revoked already.")})
    def post(self, request: Request, pk: int) -> Response:
        token = api_token_revoke(token=get_object_or_404(ApiToken, pk=pk))
        return Response(TokenOutput(token).data)


class LockoutOutput(serializers.Serializer):
    parameters = serializers.DictField(
        child=serializers.CharField(), help_text='What is locked, e.g. {"username": "ada"}.'
    )
    label = serializers.CharField()
    failures = serializers.IntegerField()
    last_failure_at = serializers.DateTimeField()
    ends_by = serializers.DateTimeField(help_text="When the lockout ends at the latest, unless unlocked.")


class LockoutListApi(generics.ListAPIView):
    """Sign-in lockouts in force (Admin only), newest first."""

    permission_classes = [role_permission(Role.ADMIN)]
    serializer_class = LockoutOutput
    queryset = AccessAttempt.objects.none()  # for the schema: the list is computed from the attempts

    def get_queryset(self) -> list[Lockout]:  # type: ignore[override]
        return login_lockouts(now=timezone.now())


class LockoutReleaseApi(APIView):
    """Unlock sign-ins (Admin only): clears the failed attempts of a username, an address, or the pair. Audited."""

    permission_classes = [role_permission(Role.ADMIN)]

    class LockoutReleaseInput(serializers.Serializer):
        username = fields.LineField(required=False, allow_blank=True, max_length=255)
        ip_address = serializers.IPAddressField(required=False, allow_blank=True)

    class ReleasedOutput(serializers.Serializer):
        released = serializers.IntegerField(help_text="Failed-attempt records cleared.")

    @extend_schema(
        request=LockoutReleaseInput,
        responses={200: ReleasedOutput, 404: error_response("No failed sign-ins are recorded for them.")},
    )
    def post(self, request: Request) -> Response:
        payload = self.LockoutReleaseInput(data=request.data)
        payload.is_valid(raise_exception=True)
        released = login_lockout_release(actor=request.user, **payload.validated_data)
        return Response(self.ReleasedOutput({"released": released}).data)
