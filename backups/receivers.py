"""A purged church's backups go with it: connected when backups is ready."""

from typing import Any

from backups.dumping import remove_backups
from backups.models import Backup
from tenants.lifecycle import tenant_purging
from tenants.models import Tenant


def remove_church_backups(tenant: Tenant, **_: Any) -> None:
    remove_backups(Backup.objects.filter(tenant=tenant), strict=True)


tenant_purging.connect(remove_church_backups, dispatch_uid="backups.purging")
