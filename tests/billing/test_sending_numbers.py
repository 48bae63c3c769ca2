"""A church holds no more sending numbers than its plan includes."""

import queue
import uuid

import pytest
from rest_framework.test import APIClient

from billing.errors import NumbersOverPlan
from billing.models import Plan
from branches.models import Branch
from church.errors import SlotChanged
from church.models import SendingNumber
from church.numbers import claim_number
from tenants.context import tenant_context
from tests.api.documented import assert_documented_error
from tests.concurrency import run_together


def branch(persona, name: str, number: str):
    body = {"name": name, "phone_number": number}
    return persona.client.post("/api/branches", body, format="json")


def renumber(client, branch_id: str, number: str):
    body = {"phone_number": number}
    return client.patch(f"/api/branches/{branch_id}", body, format="json")


def church_number(persona, number: str):
    body = {"phone_number": number}
    return persona.client.patch("/api/tenant", body, format="json")


def held(tenant) -> set[str]:
    rows = SendingNumber.objects.filter(tenant=tenant)
    return set(rows.values_list("number", flat=True))


def test_a_trial_holds_one_number_and_the_next_is_a_402_that_writes_nothing(alice):
    church = church_number(alice, "+14155550100")
    assert church.status_code == 200

    refused = branch(alice, "North", "+14155550101")
    assert refused.status_code == 402
    body = refused.json()
    assert body["code"] == "payment_required"
    assert "1 sending number" in body["message"]
    assert body["max_sending_numbers"] == 1
    assert_documented_error(refused)
    assert held(alice.tenant) == {"+14155550100"}
    with tenant_context(alice.tenant):
        assert not Branch.objects.exists()  # the branch was not half made

    # A branch without a number is no number more.
    made = alice.client.post("/api/branches", {"name": "North"}, format="json")
    assert made.status_code == 201
    later = renumber(alice.client, made.json()["id"], "+14155550101")
    assert later.status_code == 402
    with tenant_context(alice.tenant):
        assert Branch.objects.get().phone_number is None


def test_replacing_a_number_is_no_number_more(alice):
    made = branch(alice, "North", "+14155550101")
    assert made.status_code == 201
    moved = renumber(alice.client, made.json()["id"], "+14155550102")
    assert moved.status_code == 200
    assert held(alice.tenant) == {"+14155550102"}

    # The church's own number would be a second one.
    church = church_number(alice, "+14155550100")
    assert church.status_code == 402
    alice.tenant.refresh_from_db()
    assert alice.tenant.phone_number is None


def test_a_larger_plan_allows_more_and_a_smaller_one_keeps_what_is_held(alice):
    assert (
        alice.client.post(
            "/api/billing/subscribe", {"plan": "growth"}, format="json"
        ).status_code
        == 200
    )
    allowed = Plan.objects.get(code="growth").max_sending_numbers
    church = church_number(alice, "+14155550100")
    assert church.status_code == 200
    for i in range(1, allowed):
        assert branch(alice, f"B{i}", f"+1415555011{i}").status_code == 201
    assert len(held(alice.tenant)) == allowed
    assert branch(alice, "One more", "+14155550199").status_code == 402

    # The operator lowers the plan's allowance: numbers held stay and can be
    # replaced; none is added.
    Plan.objects.filter(code="growth").update(max_sending_numbers=1)
    assert len(held(alice.tenant)) == allowed
    church = church_number(alice, "+14155550109")
    assert church.status_code == 200
    numbers = held(alice.tenant)
    assert "+14155550109" in numbers
    assert "+14155550100" not in numbers
    assert len(numbers) == allowed
    assert branch(alice, "Another", "+14155550198").status_code == 402


def claims_at_once(tenant, numbers: list[str], **slot) -> list[str]:
    """`claim_number` for each of `numbers` from threads released together."""
    waiting = queue.SimpleQueue()
    for number in numbers:
        waiting.put(number)

    def claim() -> str:
        try:
            claim_number(tenant=tenant, number=waiting.get(), **slot)
        except NumbersOverPlan:
            return "refused"
        return "claimed"

    return sorted(run_together(len(numbers), claim))


@pytest.mark.postgres
def test_two_claims_at_once_for_the_last_place_give_one_number(alice):
    numbers = ["+14155550101", "+14155550102"]
    assert claims_at_once(alice.tenant, numbers, branch_id=None) == [
        "claimed",
        "refused",
    ]
    assert len(held(alice.tenant)) == 1


@pytest.mark.postgres
def test_two_changes_of_one_branch_at_once_replace_its_number_once(alice):
    made = branch(alice, "North", "+14155550100")
    assert made.status_code == 201
    slot = {"branch_id": uuid.UUID(made.json()["id"]), "replacing": "+14155550100"}
    numbers = ["+14155550101", "+14155550102"]
    # Each change claims its new number before releasing the old one.
    assert claims_at_once(alice.tenant, numbers, **slot) == ["claimed", "refused"]
    assert len(held(alice.tenant)) == 2  # the old one, until its release


def test_a_change_made_on_a_stale_number_is_a_409_not_one_more(alice):
    made = branch(alice, "North", "+14155550100")
    slot = uuid.UUID(made.json()["id"])
    with pytest.raises(SlotChanged):  # another change made it +14155550100
        claim_number(
            tenant=alice.tenant,
            number="+14155550102",
            branch_id=slot,
            replacing="+14155550101",
        )
    assert held(alice.tenant) == {"+14155550100"}


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", range(3))  # the race is not forced; try it thrice
def test_two_changes_of_one_branch_at_once_leave_it_one_number(alice, attempt):
    growth = {"plan": "growth"}
    subscribed = alice.client.post("/api/billing/subscribe", growth, format="json")
    assert subscribed.status_code == 200
    made = branch(alice, "North", "+14155550100").json()
    changes = queue.SimpleQueue()
    for number in ("+14155550101", "+14155550102"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.tokens['access']}")
        changes.put((client, number))

    def change() -> int:
        client, number = changes.get()
        return renumber(client, made["id"], number).status_code

    assert run_together(2, change) == [200, 200]
    with tenant_context(alice.tenant):
        shown = Branch.objects.get().phone_number
    in_slot = SendingNumber.objects.filter(branch_id=made["id"])
    assert list(in_slot.values_list("number", flat=True)) == [shown]
