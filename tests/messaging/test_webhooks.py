"""Inbound messages and delivery receipts: routing by number, keywords, signatures."""

import uuid

import pytest
from rest_framework.test import APIClient
from twilio.request_validator import RequestValidator

from members.models import ConsentRecord, Member, Suppression
from messaging.models import Conversation, Message
from tenants.context import tenant_context
from tests.messaging.fixtures import CHURCH_NUMBER, add_member, send

INBOUND = "/api/webhooks/sms/inbound"
STATUS = "/api/webhooks/sms/status"


def inbound(client, from_, body, *, to=CHURCH_NUMBER, sid=None, **extra):
    form = {
        "From": from_,
        "To": to,
        "Body": body,
        "MessageSid": sid or f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC1",
    }
    return APIClient().post(INBOUND, form, **extra)


def test_an_inbound_message_starts_a_conversation_linked_to_the_member(church):
    member = add_member(church.client, "+14155550101", first_name="Ann")
    response = inbound(church.client, "+14155550101", "See you Sunday")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert "<Response" in response.content.decode()
    threads = church.client.get("/api/messages/conversations").json()["results"]
    assert len(threads) == 1
    thread = threads[0]
    assert thread["member"] == member["id"]
    assert thread["unread_count"] == 1
    assert thread["last_message"]["body"] == "See you Sunday"
    inbound(church.client, "+14155550199", "Who is this?")  # not a member
    threads = church.client.get("/api/messages/conversations").json()["results"]
    assert [t["phone"] for t in threads] == ["+14155550199", "+14155550101"]
    assert threads[0]["member"] is None


def test_a_repeated_message_sid_is_stored_once(church):
    for _ in range(3):
        assert (
            inbound(church.client, "+14155550101", "hi", sid="SMdup").status_code == 200
        )
    with tenant_context(church.tenant):
        assert Message.objects.filter(provider_sid="SMdup").count() == 1
        assert Conversation.objects.get().unread_count == 1


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        " stop ",
        "Stop All",
        "unsubscribe",
        "CANCEL",
        "end",
        "Quit",
        "revoke",
        "optout",
        "opt out",
        "OPT-OUT",
        "stopall",
    ],
)
def test_stop_words_opt_out_with_exactly_one_confirmation(church, outbox, word):
    add_member(church.client, "+14155550101")
    response = inbound(church.client, "+14155550101", word)
    xml = response.content.decode()
    assert xml.count("<Message>") == 1
    assert "unsubscribed" in xml
    with tenant_context(church.tenant):
        assert Member.objects.get().opted_out is True
        assert Suppression.objects.filter(phone="+14155550101").exists()
    # nothing more is sent to them, whatever sends
    assert send(church.client, body="x", recipients={"all": True}).status_code == 400
    thread = church.client.get("/api/messages/conversations").json()["results"][0]
    reply = church.client.post(
        f"/api/messages/conversations/{thread['id']}/reply",
        {"body": "Sorry"},
        format="json",
    )
    assert reply.status_code == 409
    assert outbox == []


def test_start_opts_back_in_and_help_answers(church, outbox):
    church.client.patch("/api/tenant", {"help_text": "Call 555-0100."}, format="json")
    add_member(church.client, "+14155550101")
    inbound(church.client, "+14155550101", "STOP")
    back = inbound(church.client, "+14155550101", "start").content.decode()
    assert back.count("<Message>") == 1
    with tenant_context(church.tenant):
        assert Member.objects.get().opted_out is False
    help_reply = inbound(church.client, "+14155550101", "HELP").content.decode()
    assert "Call 555-0100." in help_reply
    assert "Msg &amp; data rates may apply" in help_reply
    assert "STOP" in help_reply
    assert (
        send(church.client, body="welcome back", recipients={"all": True}).status_code
        == 202
    )


def test_please_stop_is_flagged_not_acted_on(church):
    add_member(church.client, "+14155550101")
    response = inbound(church.client, "+14155550101", "please stop texting me")
    assert "<Message>" not in response.content.decode()
    with tenant_context(church.tenant):
        assert Member.objects.get().opted_out is False
    thread = church.client.get("/api/messages/conversations").json()["results"][0]
    assert thread["needs_attention"] is True


def test_an_unknown_number_is_404_and_bad_input_400(church):
    assert (
        inbound(church.client, "+14155550101", "hi", to="+19999999999").status_code
        == 404
    )
    missing = APIClient().post(INBOUND, {"To": CHURCH_NUMBER, "Body": "x"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "validation_error"


def test_delivery_receipts_only_move_forward(church, fake_twilio):
    add_member(church.client, "+14155550101")
    send(church.client, body="hello", recipients={"all": True})
    with tenant_context(church.tenant):
        message = Message.objects.get()
    sid = message.provider_sid
    client = APIClient()

    def receipt(status, **extra):
        form = {
            "MessageSid": sid,
            "MessageStatus": status,
            "From": CHURCH_NUMBER,
            **extra,
        }
        return client.post(STATUS, form, **_signed(STATUS, form, fake_twilio.token))

    assert receipt("delivered").status_code == 204
    assert receipt("sent").status_code == 204  # late: ignored
    with tenant_context(church.tenant):
        message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at is not None
    unknown = {
        "MessageSid": "SMnope",
        "MessageStatus": "delivered",
        "From": CHURCH_NUMBER,
    }
    assert (
        client.post(
            STATUS, unknown, **_signed(STATUS, unknown, fake_twilio.token)
        ).status_code
        == 204
    )


def test_carrier_opt_out_21610_marks_the_member(church, fake_twilio):
    add_member(church.client, "+14155550101")
    send(church.client, body="hello", recipients={"all": True})
    with tenant_context(church.tenant):
        sid = Message.objects.get().provider_sid
    form = {
        "MessageSid": sid,
        "MessageStatus": "failed",
        "ErrorCode": "21610",
        "From": CHURCH_NUMBER,
    }
    APIClient().post(STATUS, form, **_signed(STATUS, form, fake_twilio.token))
    with tenant_context(church.tenant):
        assert Member.objects.get().opted_out is True
        assert Message.objects.get().error_code == "21610"
        revoked = ConsentRecord.objects.get(kind="revoked")
    assert (revoked.source, revoked.detail, revoked.actor) == (
        "carrier",
        "21610",
        "carrier",
    )


# --- Twilio signatures ---


def _signed(path, form, token, url_base="http://testserver"):
    signature = RequestValidator(token).compute_signature(url_base + path, form)
    return {"HTTP_X_TWILIO_SIGNATURE": signature}


VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (VECTOR_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443
        ("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ],
)
def test_signature_vectors(url, signature):
    assert RequestValidator("12345").validate(url, VECTOR_PARAMS, signature)
    assert not RequestValidator("12345").validate(
        url, {**VECTOR_PARAMS, "Digits": "1"}, signature
    )


def test_signature_vector_with_repeated_parameters():
    from django.http import QueryDict

    params = QueryDict(mutable=True)
    params.setlist("Sid", ["CA123"])
    params.setlist("SidAccount", ["AC123"])
    params.setlist("Digits", ["5678", "1234", "1234"])
    assert RequestValidator("12345").validate(
        VECTOR_URL, params, "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    )


def test_the_inbound_webhook_checks_twilio_signatures(church, fake_twilio):
    form = {
        "From": "+14155550101",
        "To": CHURCH_NUMBER,
        "Body": "hi",
        "MessageSid": "SMsigned",
    }
    client = APIClient()
    forged = client.post(INBOUND, form, HTTP_X_TWILIO_SIGNATURE="AAAA")
    assert forged.status_code == 403
    assert client.post(INBOUND, form).status_code == 403  # no signature
    with tenant_context(church.tenant):
        assert not Message.objects.exists()
    assert (
        client.post(
            INBOUND, form, **_signed(INBOUND, form, fake_twilio.token)
        ).status_code
        == 200
    )
    with_port = {
        "From": "+14155550101",
        "To": CHURCH_NUMBER,
        "Body": "again",
        "MessageSid": "SMsigned2",
    }
    signed = _signed(INBOUND, with_port, fake_twilio.token, "http://testserver:80")
    assert client.post(INBOUND, with_port, **signed).status_code == 200


def test_production_refuses_unverifiable_webhooks(church, settings):
    settings.PRODUCTION = True
    settings.TWILIO_AUTH_TOKEN = ""
    response = inbound(church.client, "+14155550101", "STOP")
    assert response.status_code == 403
    with tenant_context(church.tenant):
        assert not Suppression.objects.exists()
