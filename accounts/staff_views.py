"""The church's staff and its invitations (owners and admins manage them)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import invitations, staff
from accounts.errors import TenantSuspended
from accounts.http import PublicView, identity, login_answer, parsed
from accounts.models import Invitation, Membership
from accounts.permissions import IsTenantAdmin
from accounts.schema import Session
from accounts.serializers import (
    AcceptSerializer,
    InvitationSerializer,
    InviteSerializer,
    StaffSerializer,
    StaffUpdateSerializer,
)
from accounts.services import answer_for
from accounts.tokens import Identity, bearer_token, identity_from_token
from api.clients import client_address
from api.errors import DomainError
from api.pagination import Pagination
from api.schema import errors, paginated
from tenants.models import Tenant

SENT = {"message": "If the invitation is still open, a new link is on its way."}


class StaffListView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses={200: paginated("StaffPage", StaffSerializer), **errors(401, 403)}
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page: list[Membership] | None = paginator.paginate_queryset(
            staff.staff_of(identity(request).tenant), request
        )
        # many=True builds a ListSerializer; the stubs type `instance` as one object.
        return paginator.get_paginated_response(
            StaffSerializer(page, many=True).data  # type: ignore[arg-type]
        )

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        # Nobody sets another person's password: staff join by invitation.
        raise MethodNotAllowed(
            "POST", "New staff join by invitation: POST /api/users/invitations."
        )


class StaffDetailView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        operation_id="users_detail",
        responses={200: StaffSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, user_id: str) -> Response:
        membership = staff.get_member(tenant=identity(request).tenant, user_id=user_id)
        return Response(StaffSerializer(membership).data)

    @extend_schema(
        request=StaffUpdateSerializer,
        responses={200: StaffSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, user_id: str) -> Response:
        data = parsed(StaffUpdateSerializer, request)
        caller = identity(request)
        membership = staff.change_role(
            tenant=caller.tenant,
            actor_role=caller.role,
            user_id=user_id,
            role=data["role"],
        )
        return Response(StaffSerializer(membership).data)

    @extend_schema(responses={204: OpenApiResponse(None), **errors(401, 403, 404, 409)})
    def delete(self, request: Request, user_id: str) -> Response:
        caller = identity(request)
        staff.remove_staff(
            tenant=caller.tenant, actor_role=caller.role, user_id=user_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses={
            200: paginated("InvitationPage", InvitationSerializer),
            **errors(401, 403),
        }
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page: list[Invitation] | None = paginator.paginate_queryset(
            invitations.invitations_of(identity(request).tenant), request
        )
        return paginator.get_paginated_response(
            InvitationSerializer(page, many=True).data
        )

    @extend_schema(
        request=InviteSerializer,
        responses={201: InvitationSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = parsed(InviteSerializer, request)
        caller = identity(request)
        invitation = invitations.invite(
            tenant=caller.tenant,
            invited_by=caller.user_id,
            actor_role=caller.role,
            email=data["email"],
            role=data["role"],
        )
        return Response(
            InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED
        )


class InvitationDetailView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses={204: OpenApiResponse(None), **errors(401, 403, 404)})
    def delete(self, request: Request, invitation_id: str) -> Response:
        invitation = invitations.get_invitation(
            tenant=identity(request).tenant, invitation_id=invitation_id
        )
        invitations.revoke(invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


Sent = inline_serializer("Sent", {"message": serializers.CharField()})


class InvitationResendView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses={202: Sent, **errors(401, 403, 404)})
    def post(self, request: Request, invitation_id: str) -> Response:
        invitation = invitations.get_invitation(
            tenant=identity(request).tenant, invitation_id=invitation_id
        )
        invitations.resend(invitation=invitation)
        return Response(SENT, status=status.HTTP_202_ACCEPTED)


def _bearer(request: Request) -> Identity | None:
    """A token sent along may prove the account; a bad one proves nothing."""
    raw = bearer_token(request._request)
    if not raw:
        return None
    try:
        return identity_from_token(raw)
    except DomainError:
        return None


class AcceptInvitationView(PublicView):
    @extend_schema(
        request=AcceptSerializer,
        responses={200: Session, **errors(400, 401, 403, 429)},
    )
    def post(self, request: Request) -> Response:
        data = parsed(AcceptSerializer, request)
        account, membership = invitations.accept(
            token=data["token"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            identity=_bearer(request),
            address=client_address(request),
        )
        if membership.tenant.status == Tenant.Status.SUSPENDED:
            raise TenantSuspended()
        return Response(login_answer(answer_for(account, membership)))
