from django.db.models import Count
from rest_framework import viewsets

from accounts.permissions import HasTenant, IsTenantAdmin
from branches.models import Branch
from branches.serializers import BranchSerializer
from branches.services import delete_branch, save_branch


class BranchViewSet(viewsets.ModelViewSet):
    serializer_class = BranchSerializer

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [HasTenant()]
        return [IsTenantAdmin()]

    def get_queryset(self):
        return Branch.objects.annotate(member_count=Count("members")).order_by("name")

    def perform_create(self, serializer):
        branch = save_branch(branch=Branch(), fields=serializer.validated_data)
        branch.member_count = 0
        serializer.instance = branch

    def perform_update(self, serializer):
        branch = save_branch(
            branch=serializer.instance, fields=serializer.validated_data
        )
        serializer.instance = self.get_queryset().get(pk=branch.pk)

    def perform_destroy(self, instance):
        delete_branch(branch=instance)
