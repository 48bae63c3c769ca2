"""The messaging API: send, broadcasts, history, conversations, recurring."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import parse_uuid
from api.pagination import LargePagination, Pagination
from api.schema import paginated
from messaging import conversations, surveys
from messaging.broadcasts import cancel_broadcast, send_broadcast
from messaging.compose import Recipients
from messaging.drafts import draft_message
from messaging.models import (
    Broadcast,
    Conversation,
    Message,
    RecurringMessage,
    Survey,
)
from messaging.serializers import (
    BroadcastSerializer,
    ConversationFilterSerializer,
    ConversationSerializer,
    ConversationUpdateSerializer,
    DraftRequestSerializer,
    DraftSerializer,
    HistoryFilterSerializer,
    MessageSerializer,
    NoteSerializer,
    RecurringSerializer,
    ReplySerializer,
    SendAccepted,
    SendSerializer,
    SurveyCreateSerializer,
    SurveyResultsSerializer,
    SurveySerializer,
)


class DraftView(APIView):
    """A suggested message from a language model; nothing is sent."""

    @extend_schema(request=DraftRequestSerializer, responses={200: DraftSerializer})
    def post(self, request):
        ask = DraftRequestSerializer(data=request.data)
        ask.is_valid(raise_exception=True)
        draft = draft_message(
            prompt=ask.validated_data["prompt"],
            template=ask.validated_data.get("template"),
            max_segments=ask.validated_data["max_segments"],
        )
        return Response(DraftSerializer(draft).data)


class SendView(APIView):
    @extend_schema(request=SendSerializer, responses={202: SendAccepted})
    def post(self, request):
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        template = data.get("template")
        broadcast = send_broadcast(
            body=template.body if template else data["body"],
            template_id=template.pk if template else None,
            recipients=Recipients(**data["recipients"]),
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
        broadcast = cancel_broadcast(self.get_object())
        return Response(self.get_serializer(_with_counts([broadcast])[0]).data)


class SurveyViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = SurveySerializer
    queryset = Survey.objects.select_related("broadcast").order_by("-created_at", "id")

    @extend_schema(request=SurveyCreateSerializer, responses={201: SurveySerializer})
    def create(self, request, *args, **kwargs):
        ask = SurveyCreateSerializer(data=request.data)
        ask.is_valid(raise_exception=True)
        data = ask.validated_data
        survey = surveys.start_survey(
            name=data["name"],
            question=data.get("question"),
            recipients=Recipients(**data["recipients"]),
            replies=data["replies"],
            closes_at=data.get("closes_at"),
            created_by=request.auth.user_id,
        )
        survey = self.get_queryset().get(pk=survey.pk)
        return Response(
            self.get_serializer(survey).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses={200: SurveyResultsSerializer})
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        return Response(
            SurveyResultsSerializer(surveys.results(self.get_object())).data
        )


class HistoryView(APIView):
    @extend_schema(
        parameters=[
            HistoryFilterSerializer,
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={200: paginated("MessagePage", MessageSerializer)},
    )
    def get(self, request):
        filters = HistoryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        messages = Message.objects.order_by("-created_at", "id")
        if "member" in wanted:
            messages = messages.filter(member_id=wanted["member"])
        if "direction" in wanted:
            messages = messages.filter(direction=wanted["direction"])
        if "status" in wanted:
            messages = messages.filter(status=wanted["status"])
        if "since" in wanted:
            messages = messages.filter(created_at__gte=wanted["since"])
        if "until" in wanted:
            messages = messages.filter(created_at__lt=wanted["until"])
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

    @extend_schema(parameters=[ConversationFilterSerializer])
    def list(self, request, *args, **kwargs):
        wanted = ConversationFilterSerializer(data=request.query_params)
        wanted.is_valid(raise_exception=True)
        threads = self.get_queryset()
        assignee = wanted.validated_data.get("assignee")
        if assignee == "me":
            threads = threads.filter(assignee_id=request.auth.user_id)
        elif assignee == "none":
            threads = threads.filter(assignee_id__isnull=True)
        elif assignee:
            threads = threads.filter(assignee_id=parse_uuid(assignee))
        if "status" in wanted.validated_data:
            threads = threads.filter(status=wanted.validated_data["status"])
        page = self.paginate_queryset(threads)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

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

    @extend_schema(request=ConversationUpdateSerializer)
    def partial_update(self, request, *args, **kwargs):
        change = ConversationUpdateSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        conversation, data = self.get_object(), change.validated_data
        if "assignee" in data:  # first: a refused assignee changes nothing
            conversations.assign(conversation=conversation, assignee=data["assignee"])
        if "status" in data:
            conversations.set_status(conversation=conversation, status=data["status"])
        return Response(
            self.get_serializer(self.get_queryset().get(pk=conversation.pk)).data
        )

    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = conversations.reply(
            conversation=self.get_object(),
            body=serializer.validated_data["body"],
            sent_by=request.auth.user_id,
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"], responses={200: paginated("ConversationNotes", NoteSerializer)}
    )
    @extend_schema(
        methods=["POST"], request=NoteSerializer, responses={201: NoteSerializer}
    )
    @action(detail=True, methods=["get", "post"], serializer_class=NoteSerializer)
    def notes(self, request, pk=None):
        """Internal notes on the thread, for the team: never sent to the member."""
        conversation = self.get_object()
        if request.method == "POST":
            note = NoteSerializer(data=request.data)
            note.is_valid(raise_exception=True)
            created = conversations.add_note(
                conversation=conversation,
                author=request.auth.user_id,
                body=note.validated_data["body"],
            )
            return Response(
                NoteSerializer(created).data, status=status.HTTP_201_CREATED
            )
        paginator = Pagination()
        page = paginator.paginate_queryset(
            conversation.notes.order_by("created_at", "id"), request
        )
        return paginator.get_paginated_response(NoteSerializer(page, many=True).data)

    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        conversations.mark_read(conversation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecurringViewSet(viewsets.GenericViewSet):
    serializer_class = RecurringSerializer

    def get_queryset(self):
        return RecurringMessage.objects.order_by("created_at", "id")

    def get_object(self) -> RecurringMessage:
        found = self.get_queryset().filter(pk=parse_uuid(self.kwargs["pk"])).first()
        if found is None:
            raise NotFound("Not found.")
        return found

    @extend_schema(operation_id="messages_recurring_list")
    def list(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(self.get_queryset(), request)
        data = self.get_serializer(page, many=True).data
        return paginator.get_paginated_response(data)

    @extend_schema(responses={201: RecurringSerializer})
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save(created_by=request.auth.user_id)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    def partial_update(self, request, pk=None):
        serializer = self.get_serializer(
            self.get_object(), data=request.data, partial=True
        )
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    @extend_schema(responses={204: OpenApiResponse(None)})
    def destroy(self, request, pk=None):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
