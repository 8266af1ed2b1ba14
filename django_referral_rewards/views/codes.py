"""The public code check: ``GET codes/validate/?code=CODE`` answers whether a referral
code can be used, and what a new customer gets with it.

It says nothing else: an unknown, mistyped, expired, exhausted or inactive code — or the
visitor's own code — is ``{"valid": false}``, all alike, so the answer cannot be used to
learn why. It is rate-limited (scope ``validate_code``) and writes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ..enums import Beneficiary, RewardKind, RewardTrigger
from ..exceptions import CodeError, InvalidArgument, ProgramNotFound
from ..models import Program, ReferralCode, RewardRule
from ..policies import MONEY_KINDS, ZERO_ALLOWED, rule_errors_without_db
from ..ratelimit import rate_limited
from ..services import codes

#: The triggers a new customer's own rewards come from, in the order they happen.
OFFER_TRIGGERS = (RewardTrigger.SIGNUP, RewardTrigger.ACTIVATION, RewardTrigger.FIRST_ORDER)
#: Longer input is not a code (stored codes have at most 32 characters, plus the spaces
#: and dashes people type).
MAX_TYPED_LENGTH = 64


def _money(program: Program, value: Decimal) -> str:
    return str(value.quantize(Decimal(1).scaleb(-program.currency_decimal_places)))


def _amount(program: Program, value: Decimal) -> str:
    return f"{_money(program, value)} {program.currency}"


def _percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


def reward_value(rule: RewardRule, program: Program) -> str:
    """``rule``'s value as a decimal string in its unit: whole points, an amount at the
    currency's decimal places, or a percentage without trailing zeros."""
    value = Decimal(rule.value)
    if rule.kind == RewardKind.POINTS:
        return str(int(value))
    if rule.kind in MONEY_KINDS:
        return _money(program, value)
    return _percent(value)


def describe_reward(rule: RewardRule, program: Program) -> str:
    """What ``rule`` gives, in words: ``"100 points"``, ``"5.00 USD of account
    credit"``, ``"a 10% discount voucher"``..."""
    kind, value = rule.kind, Decimal(rule.value)
    item = rule.description.strip()
    if kind == RewardKind.POINTS:
        points = int(value)
        return ngettext("%(count)d point", "%(count)d points", points) % {"count": points}
    if kind == RewardKind.CREDIT:
        return _("%(amount)s of account credit") % {"amount": _amount(program, value)}
    if kind == RewardKind.VOUCHER_PERCENT:
        return _("a %(percent)s%% discount voucher") % {"percent": _percent(value)}
    if kind == RewardKind.VOUCHER_FIXED:
        return _("a %(amount)s discount voucher") % {"amount": _amount(program, value)}
    if kind in (RewardKind.FREE_ITEM, RewardKind.FREE_PERIOD):
        if item:
            return _("a voucher for %(item)s") % {"item": item}
        if kind == RewardKind.FREE_ITEM:
            return _("a voucher for a free item or service")
        return _("a voucher for a free billing period")
    if kind == RewardKind.COMMISSION_PERCENT:
        return _("a commission of %(percent)s%% of the order") % {"percent": _percent(value)}
    return _("a commission of %(amount)s") % {"amount": _amount(program, value)}


def describe_rule(rule: RewardRule, program: Program) -> str:
    """``rule`` as a sentence for a new customer: ``"100 points when you sign up"``."""
    reward = describe_reward(rule, program)
    if rule.trigger == RewardTrigger.SIGNUP:
        text = _("%(reward)s when you sign up") % {"reward": reward}
    elif rule.trigger == RewardTrigger.ACTIVATION:
        text = _("%(reward)s when your account is activated") % {"reward": reward}
    else:
        text = _("%(reward)s on your first order") % {"reward": reward}
    return capfirst(text)


def offer_rules(code: ReferralCode) -> list[RewardRule]:
    """The active reward rules that reward a customer who signs up with ``code``: the
    referee's rules of its program for sign-up, activation and the first order, with
    the rules of its campaign replacing the program's rules of the same trigger (as the
    default reward policy applies them). Rules the policy would skip (defective ones,
    a value of zero) are left out. One query."""
    scope = Q(campaign__isnull=True)
    if code.campaign_id is not None:
        scope |= Q(campaign_id=code.campaign_id)
    rules = list(
        RewardRule.objects.filter(
            scope, program_id=code.program_id, active=True, trigger__in=OFFER_TRIGGERS
        ).order_by("pk")
    )
    # Any campaign rule of a trigger (for either side) replaces the program's rules of it.
    overridden = {rule.trigger for rule in rules if rule.campaign_id is not None}
    chosen = [
        rule
        for rule in rules
        if rule.beneficiary == Beneficiary.REFEREE
        and (rule.campaign_id is not None or rule.trigger not in overridden)
        and not rule_errors_without_db(rule)
        and (rule.value > 0 or rule.kind in ZERO_ALLOWED)
    ]
    chosen.sort(key=lambda rule: OFFER_TRIGGERS.index(rule.trigger))
    return chosen


def offer(code: ReferralCode) -> list[dict[str, Any]]:
    """What a new customer gets with ``code``, for the JSON answer: one entry per
    reward with its ``trigger``, ``kind``, ``value`` (a decimal string), ``currency``
    (``None`` unless the value is an amount), ``summary`` (a sentence) and
    ``description`` (the rule's own text for members)."""
    program = code.program
    return [
        {
            "trigger": rule.trigger,
            "kind": rule.kind,
            "value": reward_value(rule, program),
            "currency": program.currency if rule.kind in MONEY_KINDS else None,
            "summary": describe_rule(rule, program),
            "description": rule.description,
        }
        for rule in offer_rules(code)
    ]


def _error(exc: InvalidArgument, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=status)


def check_code(typed: str, user: Any = None, program: str | None = None) -> dict[str, Any]:
    """The public answer about the code ``typed``: ``{"valid": true, "code": ...,
    "program": ..., "offer": [...]}`` or ``{"valid": false}`` (an unknown, mistyped,
    expired, exhausted or inactive code, or ``user``'s own or used-up one, all alike).
    :class:`InvalidArgument` when no code is given. Shared by this view and the REST
    API's."""
    if not typed.strip():
        raise InvalidArgument(_("Give the code to check as ?code=."))
    if len(typed) > MAX_TYPED_LENGTH:
        return {"valid": False}
    try:
        found = codes.validate_code(typed, user, program or None)
    except (CodeError, ProgramNotFound):
        return {"valid": False}
    return {"valid": True, "code": found.code, "program": found.program.slug, "offer": offer(found)}


@require_safe
@never_cache
@rate_limited("validate_code", json=True)
def validate_code(request: HttpRequest) -> JsonResponse:
    """``GET ?code=CODE[&program=SLUG]`` → the answer of :func:`check_code` (status 200
    either way); a missing code is a 400 error. For a signed-in user their own code, or
    one they have used up, is not valid."""
    try:
        answer = check_code(
            request.GET.get("code", ""),
            getattr(request, "user", None),
            request.GET.get("program"),
        )
    except InvalidArgument as exc:
        return _error(exc, 400)
    return JsonResponse(answer)
