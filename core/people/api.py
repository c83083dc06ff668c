"""POST /api/auth/token/: username and password in, a new named API token out (`{"token": KEY, "name": ...}`).

Each call makes a new token (the key is stored hashed, so an old one cannot be handed out again); its owner sees
and revokes them on /account/tokens/. Failed attempts count towards the same lock-out as the web login."""
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.people.tokens import TokenLimitReached, issue_token


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="POST /api/auth/token/")


class ObtainTokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer

    @extend_schema(request=TokenRequestSerializer, responses={200: inline_serializer(
        "IssuedToken", {"token": serializers.CharField(), "name": serializers.CharField()})})
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The plain HttpRequest: axes records the failure against it, and its middleware answers a lock-out with 429.
        user = authenticate(request._request, username=data.validated_data["username"],
                            password=data.validated_data["password"])
        if user is None:
            return Response({"detail": "Unable to log in with the username and password given."},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            token, key = issue_token(user, data.validated_data["name"])
        except TokenLimitReached as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"token": key, "name": token.name})
