"""/api/v1/verify/: anyone may ask whether an image is ours and what made it.

An image whose own C2PA manifest settles it is answered at once (200). A stripped copy or a
stranger needs its watermark and fingerprint read, which the web process never loads: the
request is queued for a CPU worker (202) and polled at its `Location`.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses as _errors
from core.api import visible_or_404
from core.api.parsers import MultiPartParser
from core.api.throttles import ClientScopedRateThrottle
from generation.models import Verification, VerificationStatus
from generation.services.verification import verification_request


class VerifyRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="the image to verify (JPEG, PNG, WebP; other raster formats are traced without a manifest)"
    )


class ChainEntrySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["output", "model", "base_model", "snapshot"])
    id = serializers.CharField()
    sha256 = serializers.CharField(required=False)
    merkle_root = serializers.CharField(required=False)


class VerdictSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    trusted = serializers.BooleanField()
    traced_by = serializers.ChoiceField(choices=["manifest", "watermark", "fingerprint"], allow_null=True)
    chain = ChainEntrySerializer(many=True)
    errors = serializers.ListField(child=serializers.CharField())
    sha256 = serializers.CharField()
    manifest = serializers.ChoiceField(choices=["embedded", "stored"], allow_null=True)
    output_id = serializers.UUIDField(allow_null=True)
    bindings = serializers.DictField()


class VerificationSerializer(serializers.Serializer):
    verification_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=VerificationStatus.values)
    verdict = VerdictSerializer(allow_null=True)
    error = serializers.CharField(allow_blank=True)


def _document(verification: Verification) -> dict:
    return {
        "verification_id": str(verification.pk),
        "status": verification.status,
        "verdict": verification.verdict,
        "error": verification.error,
    }


class VerifyView(APIView):
    permission_classes = [AllowAny]  # the verify service is public by design: anyone holding an image may ask
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "verify"
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": VerifyRequestSerializer},
        responses={
            200: OpenApiResponse(VerificationSerializer, description="settled by the image's own manifest"),
            202: OpenApiResponse(VerificationSerializer, description="queued: poll the Location"),
            **_errors(400, 413, 503),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = VerifyRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        data = upload.read(settings.CLEANROOM_VERIFY_MAX_BYTES + 1)
        verification = verification_request(data=data, actor=request.user)
        settled = verification.status == VerificationStatus.DONE
        response = Response(_document(verification), status=status.HTTP_200_OK if settled else status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/verify/{verification.pk}/"
        return response


class VerificationDetailView(APIView):
    permission_classes = [AllowAny]  # an unguessable id, handed only to whoever asked
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "verify_poll"

    @extend_schema(responses={200: VerificationSerializer, **_errors(404)})
    def get(self, request: Request, pk: str) -> Response:
        return Response(_document(visible_or_404(Verification.objects.all(), "verification", pk=pk)))
