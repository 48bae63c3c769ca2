"""Surveys by SMS: a 0-10 question sent like a broadcast, replies read as scores.

The question goes out through `compose_broadcast` (quota, quiet hours,
opt-outs, one row per member), to members not surveyed in the last
`SURVEY_MIN_DAYS`. While a survey is open, a recipient's reply that is a whole
number from 0 to 10 (digits with noise, or the word in English or Spanish) is
their score, the last valid one winning, and is thanked according to its
category; any other text is an ordinary message. STOP, START and HELP are
handled before a reply is ever read as a score.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from branches.models import Branch
from members.models import Member, MemberTag
from messaging.compose import Recipients, compose_broadcast
from messaging.models import Message, Survey, SurveyResponse
from messaging.tasks import dispatch_soon
from tenants.context import on_tenant_commit, require_tenant, tenant_atomic

WORDS = {
    **dict.fromkeys(["zero", "cero"], 0),
    **dict.fromkeys(["one", "uno", "una"], 1),
    **dict.fromkeys(["two", "dos"], 2),
    **dict.fromkeys(["three", "tres"], 3),
    **dict.fromkeys(["four", "cuatro"], 4),
    **dict.fromkeys(["five", "cinco"], 5),
    **dict.fromkeys(["six", "seis"], 6),
    **dict.fromkeys(["seven", "siete"], 7),
    **dict.fromkeys(["eight", "ocho"], 8),
    **dict.fromkeys(["nine", "nueve"], 9),
    **dict.fromkeys(["ten", "diez"], 10),
}
# A number alone, with spaces and closing punctuation or emphasis around it.
_NOISE = re.compile(r"^[\s\"'(]*([0-9]{1,2}|[a-z]+)[\s!.?)\"']*$")
DEFAULT_QUESTION = (
    "On a scale of 0 to 10, how likely are you to recommend {church} to a "
    "friend? Reply with a number."
)


def parse_score(text: str) -> int | None:
    """The score `text` gives (0-10), or None when it is not just a score.

    "10!", " 9 ", "nine", "Nueve." are scores; "11", "-1", "9/10", "I'd say 8"
    are not (they go to the conversation).
    """
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    match = _NOISE.match(folded)
    if match is None:
        return None
    token = match.group(1)
    score = int(token) if token.isdigit() else WORDS.get(token)
    return score if score is not None and 0 <= score <= 10 else None


def category_of(score: int) -> str:
    if score >= 9:
        return SurveyResponse.Category.PROMOTER
    if score >= 7:
        return SurveyResponse.Category.PASSIVE
    return SurveyResponse.Category.DETRACTOR


def start_survey(
    *,
    name: str,
    recipients: Recipients,
    replies: dict[str, str],
    question: str | None = None,
    closes_at: dt.datetime | None = None,
    created_by: uuid.UUID | None = None,
) -> Survey:
    """Send the question (a broadcast) to the recipients not surveyed lately."""
    now = timezone.now()
    since = now - dt.timedelta(days=settings.SURVEY_MIN_DAYS)
    recent = frozenset(
        Message.objects.filter(
            broadcast__survey__isnull=False, created_at__gte=since, member__isnull=False
        ).values_list("member_id", flat=True)
    )
    body = question or DEFAULT_QUESTION.format(church=require_tenant().name)
    with tenant_atomic():
        composed = compose_broadcast(
            body=body, recipients=recipients, created_by=created_by, skip_members=recent
        )
        survey = Survey.objects.create(
            name=name,
            question=body,
            broadcast=composed.broadcast,
            promoter_reply=replies["promoter"],
            passive_reply=replies["passive"],
            detractor_reply=replies["detractor"],
            closes_at=closes_at or now + dt.timedelta(days=settings.SURVEY_OPEN_DAYS),
            skipped_recent=composed.skipped,
            created_by=created_by,
        )
        on_tenant_commit(lambda: dispatch_soon(composed.first_due))
    return survey


ASKED = ["id", "sent_at", "attempted_at", "created_at", "answered_at", "branch_id"]
REPLIES = ["id", "promoter_reply", "passive_reply", "detractor_reply"]


@dataclass(frozen=True)
class Answer:
    reply: str  # the thank-you of the score's category
    asked: Message  # the survey's question to this phone: what the reply answers


def answer(*, phone: str, body: str, member: Member | None) -> Answer | None:
    """Take an inbound reply as a score if a survey to `phone` is open and the
    text is one: the thank-you to send back, and the question it answers."""
    score = parse_score(body)
    if score is None:
        return None
    now = timezone.now()
    # The question's row as `counts.received` reads it, and the survey's
    # replies, in one light query (answers come in bursts).
    found = (
        Message.objects.filter(
            to_number=phone,
            sent_at__isnull=False,
            broadcast__survey__closes_at__gt=now,
        )
        .order_by("-sent_at")
        .values_list(*ASKED, *(f"broadcast__survey__{name}" for name in REPLIES))
        .first()
    )
    if found is None:
        return None
    asked = Message(**dict(zip(ASKED, found[: len(ASKED)], strict=True)))  # read only
    replies = dict(zip(REPLIES, found[len(ASKED) :], strict=True))
    category = category_of(score)
    response = SurveyResponse(
        survey_id=replies["id"],
        phone=phone,
        member_id=member.pk if member else None,
        branch_id=member.branch_id if member else None,
        score=score,
        category=category,
        answered_at=now,
    )
    # One statement, the later reply winning (a survey's answers come in bursts).
    SurveyResponse.objects.bulk_create(
        [response],
        update_conflicts=True,
        unique_fields=["survey", "phone"],
        update_fields=["member_id", "branch_id", "score", "category", "answered_at"],
    )
    return Answer(reply=replies[f"{category}_reply"], asked=asked)


def _tally(categories: list[str]) -> dict[str, Any]:
    n = len(categories)
    promoters = categories.count(SurveyResponse.Category.PROMOTER)
    passives = categories.count(SurveyResponse.Category.PASSIVE)
    detractors = categories.count(SurveyResponse.Category.DETRACTOR)
    return {
        "responses": n,
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "nps": round(100 * (promoters - detractors) / n) if n else None,
    }


def results(survey: Survey) -> dict[str, Any]:
    """GET /api/surveys/{id}/results: NPS overall, by branch and by tag."""
    sent = Message.objects.filter(
        broadcast_id=survey.broadcast_id, sent_at__isnull=False
    ).count()
    rows = list(survey.responses.values_list("category", "branch_id", "member_id"))
    by_branch: defaultdict[uuid.UUID | None, list[str]] = defaultdict(list)
    by_member: defaultdict[uuid.UUID, list[str]] = defaultdict(list)
    for category, branch, member in rows:
        by_branch[branch].append(category)
        if member is not None:
            by_member[member].append(category)
    by_tag: defaultdict[str, list[str]] = defaultdict(list)
    for member_id, tag in MemberTag.objects.filter(
        member_id__in=list(by_member)
    ).values_list("member_id", "name"):
        by_tag[tag] += by_member[member_id]
    named = [branch for branch in by_branch if branch]
    names = dict(Branch.objects.filter(pk__in=named).values_list("pk", "name"))
    total = _tally([category for category, _, _ in rows])
    return {
        "sent": sent,
        **total,
        "response_rate": round(total["responses"] / sent, 4) if sent else None,
        "skipped_recent": survey.skipped_recent,
        "by_branch": [
            {
                "branch": branch,
                "name": names.get(branch, "") if branch else "",
                **_tally(categories),
            }
            for branch, categories in by_branch.items()
        ],  # fmt: skip
        "by_tag": [
            {"tag": tag, **_tally(categories)}
            for tag, categories in sorted(by_tag.items())
        ],
    }
