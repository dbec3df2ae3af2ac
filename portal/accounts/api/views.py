from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.models import ApiToken, User
from portal.accounts.permissions import role_permission
from portal.accounts.roles import Role, user_roles
from portal.accounts.selectors import api_tokens
from portal.accounts.services import api_token_create, api_token_revoke, user_update_contact
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
        phone = serializers.CharField(required=False, allow_blank=True, max_length=16)
        chat_handle = serializers.CharField(required=False, allow_blank=True, max_length=81)

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
        name = serializers.CharField(max_length=100)

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
