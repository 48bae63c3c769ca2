from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from templates_app.models import MessageTemplate
from templates_app.serializers import PreviewSerializer, TemplateSerializer
from templates_app.services import render_for


class TemplateViewSet(viewsets.ModelViewSet):
    serializer_class = TemplateSerializer

    def get_queryset(self):
        return MessageTemplate.objects.order_by("name", "id")

    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        template = self.get_object()
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = serializer.validated_data["member"]
        text, info = render_for(template.body, member)
        return Response(
            {"body": text, "encoding": info.encoding, "segments": info.segments}
        )
