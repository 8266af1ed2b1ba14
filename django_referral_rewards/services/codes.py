"""Referral codes: personal and campaign codes, validation, and counted uses.

A code's limits hold under any number of concurrent uses (invariant 3):

* ``max_uses`` — a conditional ``UPDATE ... SET times_used = times_used + 1 WHERE
  times_used < max_uses``, backed by a database check constraint;
* ``max_uses_per_customer`` — counted under a lock on the *customer's* account row, so
  customers never wait on each other and an unlimited popular code locks nothing shared.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from ..codes import CODE_RE, is_valid_generated, looks_generated, normalize
from ..conf import app_settings
from ..enums import CodeKind
from ..exceptions import (
    CodeAlreadyUsed,
    CodeError,
    CodeExhausted,
    CodeExpired,
    CodeInactive,
    CodeMistyped,
    CodeNotFound,
    CodeNotYetValid,
    CodeTaken,
    InvalidArgument,
    OwnCode,
)
from ..models import Account, Campaign, CodeUse, Program, ReferralCode
from .accounts import get_or_create_account

#: How many generator proposals are tried before giving up (collisions are rare:
#: 40 random bits).
MAX_ATTEMPTS = 8


def _as_account(owner: Any, program: Program | str | None) -> Account | None:
    if owner is None or isinstance(owner, Account):
        return owner
    return get_or_create_account(owner, program=program)


def clean_new_code(code: Any) -> str:
    """``code`` normalised, or :class:`InvalidArgument` if it cannot be stored: 3 to 32
    letters and digits, and not of the generated shape with a wrong check character."""
    normalized = normalize(code)
    if not CODE_RE.match(normalized):
        raise InvalidArgument(
            "A code is 3 to 32 letters and digits (spaces and dashes are ignored).", code=code
        )
    if looks_generated(normalized) and not is_valid_generated(normalized):
        # It would be refused as a typo at lookup, before the database is asked.
        raise InvalidArgument(
            "Codes of 9 letters and digits are reserved for generated codes; choose "
            "another length.",
            code=code,
        )
    return normalized


def get_or_create_personal_code(
    user_or_member: Any, *, program: Program | str | None = None
) -> ReferralCode:
    """The member's one personal code in ``program``, created on first use with the
    configured generator. Safe when two requests create it at once."""
    account = (
        user_or_member
        if isinstance(user_or_member, Account)
        else get_or_create_account(user_or_member, program=program)
    )
    existing = ReferralCode.objects.filter(personal_for=account).first()
    if existing is not None:
        return existing
    generator = app_settings.code_generator()
    for attempt in range(MAX_ATTEMPTS):
        propose = generator.generate if attempt < MAX_ATTEMPTS // 2 else generator.fallback
        candidate = normalize(propose(account=account, attempt=attempt))
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    code=clean_new_code(candidate),
                    program_id=account.program_id,
                    kind=CodeKind.PERSONAL,
                    owner=account,
                    personal_for=account,
                )
        except IntegrityError:
            existing = ReferralCode.objects.filter(personal_for=account).first()
            if existing is not None:  # another request created it first
                return existing
        except InvalidArgument:
            continue  # a generator proposal we would not store; ask again
    raise CodeTaken("Could not find a free code; try again.")


#: The largest usage limit (what an integer column holds on every supported database).
MAX_USE_LIMIT = 2**31 - 1


def create_code(
    code: str | None = None,
    *,
    program: Program | str | None = None,
    owner: Any = None,
    campaign: Campaign | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    max_uses: int | None = None,
    max_uses_per_customer: int | None = None,
    active: bool = True,
) -> ReferralCode:
    """Create a campaign code (``SUMMER25``), owned by a referrer or by the house
    (``owner=None``). Without ``code`` one is generated. Raises :class:`CodeTaken` if
    the code exists and :class:`InvalidArgument` for a malformed code or window."""
    program_obj = campaign.program if campaign is not None else Program.objects.resolve(program)
    owner_account = _as_account(owner, program_obj)
    if owner_account is not None and owner_account.program_id != program_obj.pk:
        raise InvalidArgument("The owner's account belongs to another program.")
    for limit in (max_uses, max_uses_per_customer):
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_USE_LIMIT
        ):
            raise InvalidArgument(
                f"Usage limits are whole numbers from 1 to {MAX_USE_LIMIT}.", limit=limit
            )
    if starts_at and expires_at and expires_at <= starts_at:
        raise InvalidArgument("A code must expire after it starts.")
    attempts = 1 if code is not None else MAX_ATTEMPTS
    for _ in range(attempts):
        candidate = clean_new_code(
            code if code is not None else app_settings.code_generator().fallback()
        )
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    code=candidate,
                    program=program_obj,
                    kind=CodeKind.CAMPAIGN,
                    owner=owner_account,
                    campaign=campaign,
                    starts_at=starts_at,
                    expires_at=expires_at,
                    max_uses=max_uses,
                    max_uses_per_customer=max_uses_per_customer,
                    active=active,
                )
        except IntegrityError:
            continue
    raise CodeTaken(f"The code {candidate} is already taken.", code=candidate)


def _customer_account(user: Any, program_id: int) -> Account | None:
    return (
        Account.objects.filter(member__user=user, program_id=program_id).first()
        if getattr(user, "is_authenticated", False)
        else None
    )


def unusable_reason(found: ReferralCode, *, now: datetime) -> CodeError | None:
    """Why nobody can use ``found`` at ``now``, as the error :func:`validate_code` would
    raise — :class:`CodeInactive` (the code or its campaign switched off),
    :class:`CodeNotYetValid`, :class:`CodeExpired` (the code's or its campaign's end),
    :class:`CodeExhausted` (``max_uses`` reached) — or ``None``. Reads only what is
    loaded on ``found`` (load its campaign with it)."""
    campaign = found.campaign
    if not found.active or (campaign is not None and not campaign.active):
        return CodeInactive()
    starts = [d for d in (found.starts_at, campaign and campaign.starts_at) if d]
    if starts and now < max(starts):
        return CodeNotYetValid()
    ends = [d for d in (found.expires_at, campaign and campaign.ends_at) if d]
    if ends and now >= min(ends):
        return CodeExpired()
    if found.max_uses is not None and found.times_used >= found.max_uses:
        return CodeExhausted()
    return None


def validate_code(
    code: Any,
    user: Any = None,
    program: Program | str | None = None,
    *,
    now: datetime | None = None,
) -> ReferralCode:
    """The usable code for ``code`` as typed, or an exception naming the reason:
    :class:`CodeMistyped` (caught before any lookup), :class:`CodeNotFound`,
    :class:`CodeInactive`, :class:`CodeNotYetValid`, :class:`CodeExpired`,
    :class:`CodeExhausted`, :class:`OwnCode`, :class:`CodeAlreadyUsed`. Reads only."""
    now = now or timezone.now()
    normalized = normalize(code)
    if not normalized:
        raise CodeNotFound()
    if looks_generated(normalized) and not is_valid_generated(normalized):
        raise CodeMistyped()
    queryset = ReferralCode.objects.select_related("program", "campaign", "owner__member")
    if program is not None:
        queryset = queryset.filter(program=Program.objects.resolve(program))
    found = queryset.lookup(normalized)
    if found is None:
        raise CodeNotFound()
    unusable = unusable_reason(found, now=now)
    if unusable is not None:
        raise unusable
    if user is not None and getattr(user, "is_authenticated", False):
        owner_user_id = found.owner.member.user_id if found.owner is not None else None
        if owner_user_id is not None and owner_user_id == user.pk:
            raise OwnCode()
        if found.max_uses_per_customer is not None:
            customer = _customer_account(user, found.program_id)
            if customer is not None and (
                CodeUse.objects.filter(code=found, customer=customer).count()
                >= found.max_uses_per_customer
            ):
                raise CodeAlreadyUsed()
    return found


def use_code(
    code: Any,
    *,
    user: Any,
    program: Program | str | None = None,
    reference: tuple[str, Any] | None = None,
    now: datetime | None = None,
) -> CodeUse:
    """Record one use of ``code`` by ``user``, enforcing every limit under concurrency.

    With a ``reference`` (e.g. ``("shop.order", 42)``) the call is idempotent: the same
    code, customer and reference again return the first use.
    """
    found = validate_code(code, user, program, now=now)
    customer = get_or_create_account(user, program=found.program)
    return record_use(found, customer=customer, reference=reference, now=now)


@transaction.atomic
def record_use(
    found: ReferralCode,
    *,
    customer: Account,
    reference: tuple[str, Any] | None = None,
    now: datetime | None = None,
) -> CodeUse:
    """The locked part of :func:`use_code`, for a code the caller has just validated:
    counts the customer's uses under their account lock and claims ``max_uses``."""
    customer = Account.objects.select_for_update().get(pk=customer.pk)
    ref_type, ref_id = ("", "")
    if reference is not None:
        ref_type, ref_id = str(reference[0]), str(reference[1])
        existing = CodeUse.objects.filter(
            code=found, customer=customer, reference_type=ref_type, reference_id=ref_id
        ).first()
        if existing is not None:
            return existing
    if found.max_uses_per_customer is not None:
        used = CodeUse.objects.filter(code=found, customer=customer).count()
        if used >= found.max_uses_per_customer:
            raise CodeAlreadyUsed()
    if found.max_uses is not None:
        claimed = ReferralCode.objects.filter(pk=found.pk, times_used__lt=F("max_uses")).update(
            times_used=F("times_used") + 1
        )
        if not claimed:
            raise CodeExhausted()
    return CodeUse.objects.create(
        code=found,
        customer=customer,
        reference_type=ref_type,
        reference_id=ref_id,
        created_at=now or timezone.now(),
    )


def set_active(codes: Any, *, active: bool) -> int:
    """Activate or deactivate codes (a queryset or an iterable of codes); returns how
    many changed."""
    queryset = (
        codes
        if isinstance(codes, QuerySet)
        else ReferralCode.objects.filter(pk__in=[c.pk for c in codes])
    )
    return queryset.exclude(active=active).update(active=active)
