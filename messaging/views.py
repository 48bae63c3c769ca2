"""The messaging API: send, broadcasts, history, conversations, recurring."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import LargePagination, Pagination, parse_uuid
from messaging import conversations, recurring, sending
from messaging.models import Broadcast, Conversation, Message, RecurringMessage
from messaging.serializers import (
    BroadcastSerializer,
    ConversationSerializer,
    MessageSerializer,
    RecurringOut,
    RecurringSerializer,
    ReplySerializer,
    SendAccepted,
    SendSerializer,
    recurring_data,
)
from tenants.schema import paginated


def _recipients(data: dict) -> sending.Recipients:
    return sending.Recipients(**data)


class SendView(APIView):
    @extend_schema(request=SendSerializer, responses={202: SendAccepted})
    def post(self, request):
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        template = data.get("template")
        broadcast = sending.create_broadcast(
            body=template.body if template else data["body"],
            template_id=template.pk if template else None,
            recipients=_recipients(data["recipients"]),
            scheduled_at=data.get("scheduled_at"),
            created_by=request.auth.user_id,
        )
        return Response(
            {
                "id": str(broadcast.id),
                "status": broadcast.status,
                "recipient_count": broadcast.recipient_count,
                "opted_out_skipped": broadcast.opted_out_skipped,
                "segments": broadcast.segments,
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _with_counts(broadcasts: list[Broadcast]) -> list[Broadcast]:
    by_id = {b.id: b for b in broadcasts}
    rows = (
        Message.objects.filter(broadcast_id__in=by_id)
        .values_list("broadcast_id", "status")
        .annotate(n=Count("id"))
    )
    for broadcast in broadcasts:
        broadcast.status_counts = {}
    for broadcast_id, state, number in rows:
        by_id[broadcast_id].status_counts[state] = number
    return broadcasts


class BroadcastViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BroadcastSerializer
    queryset = Broadcast.objects.order_by("-created_at", "id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        data = self.get_serializer(_with_counts(list(page)), many=True).data
        return self.get_paginated_response(data)

    def retrieve(self, request, *args, **kwargs):
        broadcast = _with_counts([self.get_object()])[0]
        return Response(self.get_serializer(broadcast).data)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        broadcast = sending.cancel_broadcast(self.get_object())
        return Response(self.get_serializer(_with_counts([broadcast])[0]).data)


def _when(request, name: str):
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: ["Use an ISO 8601 date-time."]})
    if timezone.is_naive(value):
        return timezone.make_aware(value, timezone.UTC)
    # PostgreSQL refuses offsets beyond ±15:59 that Python accepts; UTC is
    # the same instant in a form every backend reads.
    try:
        return value.astimezone(timezone.UTC)
    except OverflowError:
        raise ValidationError({name: ["This date-time is out of range."]}) from None


class HistoryView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("member", OpenApiTypes.UUID),
            OpenApiParameter("direction", enum=Message.Direction.values),
            OpenApiParameter("status", enum=Message.Status.values),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={200: paginated("MessagePage", MessageSerializer)},
    )
    def get(self, request):
        params = request.query_params
        messages = Message.objects.order_by("-created_at", "id")
        if member := params.get("member"):
            member_id = parse_uuid(member)
            if member_id is None:
                raise ValidationError({"member": ["Use a member id."]})
            messages = messages.filter(member_id=member_id)
        if direction := params.get("direction"):
            messages = messages.filter(direction=direction)
        if state := params.get("status"):
            messages = messages.filter(status=state)
        if since := _when(request, "since"):
            messages = messages.filter(created_at__gte=since)
        if until := _when(request, "until"):
            messages = messages.filter(created_at__lt=until)
        paginator = LargePagination()
        page = paginator.paginate_queryset(messages, request)
        return paginator.get_paginated_response(MessageSerializer(page, many=True).data)


class ConversationViewSet(
    mixins.ListModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    serializer_class = ConversationSerializer
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        latest = Message.objects.filter(conversation=OuterRef("pk")).order_by(
            "-created_at"
        )
        return Conversation.objects.annotate(
            last_body=Subquery(latest.values("body")[:1]),
            last_direction=Subquery(latest.values("direction")[:1]),
            last_created=Subquery(latest.values("created_at")[:1]),
        ).order_by("-updated_at", "id")

    @extend_schema(
        responses={
            200: paginated(
                "ConversationThread",
                MessageSerializer,
                conversation=ConversationSerializer(),
            )
        }
    )
    def retrieve(self, request, pk=None):
        conversation = self.get_object()
        paginator = Pagination()
        thread = conversation.messages.order_by("created_at", "id")
        page = paginator.paginate_queryset(thread, request)
        response = paginator.get_paginated_response(
            MessageSerializer(page, many=True).data
        )
        response.data["conversation"] = self.get_serializer(conversation).data
        return response

    def partial_update(self, request, *args, **kwargs):
        state = request.data.get("status") if isinstance(request.data, dict) else None
        if state not in Conversation.Status.values:
            raise ValidationError({"status": ["Use open or closed."]})
        conversation = self.get_object()
        conversations.set_status(conversation=conversation, status=state)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=conversation.pk)).data
        )

    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = conversations.reply(
            conversation=self.get_object(), body=serializer.validated_data["body"]
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        conversations.mark_read(conversation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecurringViewSet(viewsets.GenericViewSet):
    # For the schema only: reads and writes go through recurring_data/_save.
    queryset = RecurringMessage.objects.all()
    serializer_class = RecurringOut

    def _get(self, pk) -> RecurringMessage:
        from rest_framework.exceptions import NotFound

        found = RecurringMessage.objects.filter(pk=parse_uuid(pk)).first()
        if found is None:
            raise NotFound("Not found.")
        return found

    @extend_schema(
        operation_id="messages_recurring_list", responses={200: RecurringOut(many=True)}
    )
    def list(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            RecurringMessage.objects.order_by("created_at", "id"), request
        )
        return paginator.get_paginated_response([recurring_data(r) for r in page])

    @extend_schema(request=RecurringSerializer, responses={201: RecurringOut})
    def create(self, request):
        item = self._save(
            RecurringMessage(created_by=request.auth.user_id),
            request.data,
            partial=False,
        )
        return Response(recurring_data(item), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: RecurringOut})
    def retrieve(self, request, pk=None):
        return Response(recurring_data(self._get(pk)))

    def partial_update(self, request, pk=None):
        return Response(
            recurring_data(self._save(self._get(pk), request.data, partial=True))
        )

    @extend_schema(responses={204: OpenApiResponse(None)})
    def destroy(self, request, pk=None):
        self._get(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _save(self, item: RecurringMessage, data, *, partial: bool) -> RecurringMessage:
        if partial and isinstance(data, dict) and not item._state.adding:
            data = recurring.merged_for_patch(recurring_data(item), data)
        serializer = RecurringSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return recurring.apply_validated(item, serializer.validated_data)
