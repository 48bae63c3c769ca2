"""What accounts does when a church is deleted: connected when accounts is ready.

At the deletion every session of the church is revoked (its tokens answer 401
even if it is restored); at the purge its memberships, invitations and
sessions go, and the people stay, with their other churches.
"""

from typing import Any

from accounts.models import Invitation, LoginSession, Membership
from accounts.revocation import revoke_sessions
from tenants.lifecycle import tenant_deleting, tenant_purging
from tenants.models import Tenant


def revoke_church_sessions(tenant: Tenant, **_: Any) -> None:
    revoke_sessions(
        LoginSession.objects.filter(tenant=tenant, revoked_at=None).values_list(
            "pk", flat=True
        )
    )


def forget_church_staff(tenant: Tenant, **_: Any) -> None:
    revoke_church_sessions(tenant)
    Membership.objects.filter(tenant=tenant).delete()
    Invitation.objects.filter(tenant=tenant).delete()
    LoginSession.objects.filter(tenant=tenant).delete()


tenant_deleting.connect(revoke_church_sessions, dispatch_uid="accounts.deleting")
tenant_purging.connect(forget_church_staff, dispatch_uid="accounts.purging")
