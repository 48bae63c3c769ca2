"""A purged church's exports go with it: connected when privacy is ready."""

from typing import Any

from privacy.church_export import remove_exports
from privacy.models import ChurchExport
from tenants.lifecycle import tenant_purging
from tenants.models import Tenant


def remove_church_exports(tenant: Tenant, **_: Any) -> None:
    remove_exports(ChurchExport.objects.filter(tenant=tenant), strict=True)


tenant_purging.connect(remove_church_exports, dispatch_uid="privacy.purging")
