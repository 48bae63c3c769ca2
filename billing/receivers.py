"""What billing does when other apps act: connected when billing is ready.

A church starts its trial as its `Tenant` row is created, and the registry's
daily usage rollup follows each recount of the church's own counters.
"""

from django.db.models.signals import post_save

from billing.allowance import start_trial
from billing.usage import record_usage
from messaging.usage import usage_recorded
from tenants.models import Tenant

post_save.connect(start_trial, sender=Tenant, dispatch_uid="billing.trial")
usage_recorded.connect(record_usage, dispatch_uid="billing.usage")
