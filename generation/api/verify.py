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
from generation.services.verdicts import INVALID, TAINTED, TRAINING_MINING_LABELS, TRUSTED, WORDS
from generation.services.verification import verification_request


class VerifyRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,  # the service refuses it with the same plain reason as any non-image
        help_text="the image to verify (JPEG, PNG, WebP; other raster formats are traced without a manifest)",
    )


class ChainEntrySerializer(serializers.Serializer):
    """One link of the chain; which keys an entry has depends on its `type`."""

    type = serializers.ChoiceField(choices=["output", "model", "base_model", "snapshot"])
    id = serializers.CharField()
    sha256 = serializers.CharField(required=False)
    merkle_root = serializers.CharField(required=False, help_text="snapshot: the Merkle root of its members")
    job_id = serializers.CharField(required=False, help_text="output: the generation job that made it")
    name = serializers.CharField(required=False, help_text="base_model: its registered name")
    status = serializers.CharField(
        required=False,
        help_text="model: usable or flagged; base_model and snapshot: their status now (approved, tainted, revoked…)",
    )
    created_at = serializers.DateTimeField(required=False, allow_null=True)
    approved_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="snapshot: when its last required approval came"
    )
    approvers = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="snapshot: who approved it, in order"
    )
    member_count = serializers.IntegerField(required=False, help_text="snapshot: how many images it holds")
    parameters = serializers.DictField(
        required=False,
        help_text="output: how it was made (kind, width, height, seed, steps, guidance, strength, scale, "
        "digital_source_type); never the prompt or who asked",
    )


class ConfidenceSerializer(serializers.Serializer):
    binding = serializers.ChoiceField(choices=["watermark", "fingerprint"])
    level = serializers.ChoiceField(choices=["high", "medium", "low"])
    sentence = serializers.CharField()


class SignerSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="the signing certificate's common name (else its organisation)")
    issuer = serializers.CharField(allow_null=True)
    signed_at = serializers.CharField(allow_null=True, help_text="the time-stamp's time, when it carries one")
    time_stamped = serializers.BooleanField()
    trusted = serializers.BooleanField(help_text="the signer chains to the organisation's trust anchors")


class TrainingMiningSerializer(serializers.Serializer):
    entries = serializers.DictField(
        child=serializers.ChoiceField(choices=["allowed", "constrained", "notAllowed"]),
        help_text="ai_training, ai_generative_training, ai_inference, data_mining: the stricter use of both labels",
    )
    labels = serializers.ListField(child=serializers.ChoiceField(choices=TRAINING_MINING_LABELS))
    sentence = serializers.CharField()


class TaintSerializer(serializers.Serializer):
    snapshot_id = serializers.CharField()
    consent_id = serializers.CharField()
    event = serializers.ChoiceField(choices=["revoked", "expired"])
    at = serializers.DateTimeField(allow_null=True)


class FailureSerializer(serializers.Serializer):
    where = serializers.CharField(help_text="e.g. the image's own manifest; ingredient 'model …' (model); our records")
    code = serializers.CharField(help_text="the validator's code (assertion.dataHash.mismatch…) or ours (chain.mismatch…)")
    sentence = serializers.CharField()


class VerdictSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="the manifest's integrity holds (signatures and hashes), whoever signed it")
    trusted = serializers.BooleanField(help_text="the manifest is signed by an identity the organisation's anchors vouch for")
    traced_by = serializers.ChoiceField(choices=["manifest", "watermark", "fingerprint"], allow_null=True)
    chain = ChainEntrySerializer(many=True)
    errors = serializers.ListField(child=serializers.CharField())
    sha256 = serializers.CharField()
    manifest = serializers.ChoiceField(choices=["embedded", "stored"], allow_null=True)
    output_id = serializers.UUIDField(allow_null=True)
    bindings = serializers.DictField()
    verdict = serializers.ChoiceField(choices=WORDS, help_text="the verdict in one word")
    summary = serializers.CharField(help_text="one plain sentence explaining the verdict")
    chain_state = serializers.ChoiceField(
        choices=[TRUSTED, TAINTED, INVALID], allow_null=True, help_text="Recovered: the state of the stored chain"
    )
    confidence = ConfidenceSerializer(allow_null=True, help_text="Recovered: how sure the soft binding is")
    signer = SignerSerializer(allow_null=True)
    training_mining = TrainingMiningSerializer(allow_null=True)
    taint = TaintSerializer(many=True, help_text="each consent behind the chain's snapshot that no longer holds")
    failures = FailureSerializer(many=True, help_text="each integrity or record check that failed, and where")


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
