"""Professional referrals: recording them (with their checks), the balance per partner
and its words, date ranges, and the balance report (its order, inactive partners, one
query)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.exceptions import InvalidArgument
from django_referral_rewards.models import Partner, ProfessionalReferral
from django_referral_rewards.services import professional
from django_referral_rewards.services.professional import PartnerBalance, describe

pytestmark = pytest.mark.django_db

JAN = dt.date(2026, 1, 1)


def day(n: int) -> dt.date:
    """The ``n``-th of January 2026."""
    return JAN + dt.timedelta(days=n - 1)


def partner(name: str = "Riverside Vets", **fields) -> Partner:
    return Partner.objects.create(name=name, **fields)


def exchange(clinic: Partner, *, sent: int = 0, received: int = 0, date: dt.date = JAN):
    for _ in range(sent):
        professional.record_referral(clinic, direction="sent", date=date)
    for _ in range(received):
        professional.record_referral(clinic, direction="received", date=date)


# --- recording ----------------------------------------------------------------------------


def test_record_a_referral_sent_and_one_received():
    clinic = partner(kind="specialist", specialty="Oncology")
    vet = testing.make_user("dr_vet")

    sent = professional.record_referral(
        clinic,
        direction="sent",
        date=day(5),
        reference="  PET-0042 ",
        reason=" Suspected lymphoma ",
        notes="Owner prefers mornings.",
        created_by=vet,
    )
    received = professional.record_referral(clinic, direction="received")

    stored = ProfessionalReferral.objects.get(pk=sent.pk)
    assert (stored.partner, stored.direction, stored.date) == (clinic, "sent", day(5))
    assert (stored.reference, stored.reason, stored.notes) == (
        "PET-0042",
        "Suspected lymphoma",
        "Owner prefers mornings.",
    )
    assert stored.created_by == vet
    assert received.date == timezone.localdate()  # today by default
    assert received.created_by is None
    assert str(stored) == "Sent to the partner: Riverside Vets (Oncology) (2026-01-05)"


@pytest.mark.parametrize("direction", ["outbound", "", None, "SENT", "both"])
def test_the_direction_is_sent_or_received(direction):
    clinic = partner()
    with pytest.raises(InvalidArgument, match="direction must be 'sent' or 'received'"):
        professional.record_referral(clinic, direction=direction)
    assert not ProfessionalReferral.objects.exists()


@pytest.mark.parametrize(
    "date", ["2026-01-05", dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), 20260105]
)
def test_the_date_must_be_a_date(date):
    with pytest.raises(InvalidArgument, match="date must be a date"):
        professional.record_referral(partner(), direction="sent", date=date)
    assert not ProfessionalReferral.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reference", "x" * 201, "reference is longer than 200 characters"),
        ("reason", "x" * 201, "reason is longer than 200 characters"),
        ("reference", 42, "reference must be text"),
        ("reason", None, "reason must be text"),
        ("notes", ["a"], "notes must be text"),
    ],
)
def test_texts_are_checked(field, value, message):
    with pytest.raises(InvalidArgument, match=message):
        professional.record_referral(partner(), direction="sent", **{field: value})
    assert not ProfessionalReferral.objects.exists()


def test_texts_at_their_limits_and_long_notes_are_fine():
    made = professional.record_referral(
        partner(), direction="sent", reference="r" * 200, reason="y" * 200, notes="n" * 5000
    )
    assert (len(made.reference), len(made.reason), len(made.notes)) == (200, 200, 5000)


@pytest.mark.parametrize("who", [Partner(name="Unsaved"), "Riverside Vets", None])
def test_the_partner_must_be_saved(who):
    with pytest.raises(InvalidArgument, match="partner must be a saved partner"):
        professional.record_referral(who, direction="sent")
    with pytest.raises(InvalidArgument, match="partner must be a saved partner"):
        professional.balance(who)
    assert not ProfessionalReferral.objects.exists()


# --- the balance --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "words"),
    [
        (1, "They owe us 1 referral"),
        (2, "They owe us 2 referrals"),
        (0, "Even"),
        (-1, "We owe them 1 referral"),
        (-2, "We owe them 2 referrals"),
    ],
)
def test_describe(balance, words):
    assert describe(balance) == words


def test_the_issues_example_they_sent_us_3_we_sent_them_2():
    clinic = partner("Hillside Animal Clinic", kind="clinic")
    exchange(clinic, received=3, sent=2)

    result = professional.balance(clinic)

    assert result == PartnerBalance(partner=clinic, sent=2, received=3)
    assert result.balance == 1
    assert result.description == "They owe us 1 referral"
    assert result.description.startswith("They owe us 1")


def test_we_owe_them_and_even():
    owed = partner("Cardio Specialists")
    exchange(owed, sent=3, received=1)
    even = partner("Even Vets")
    exchange(even, sent=2, received=2)
    fresh = partner("New Partner")

    assert professional.balance(owed).description == "We owe them 2 referrals"
    assert professional.balance(owed).balance == -2
    assert professional.balance(even).description == "Even"
    assert professional.balance(fresh) == PartnerBalance(partner=fresh, sent=0, received=0)
    assert professional.balance(fresh).description == "Even"


def test_other_partners_referrals_do_not_count():
    clinic, other = partner("A"), partner("B")
    exchange(clinic, received=1)
    exchange(other, sent=5)
    assert (professional.balance(clinic).sent, professional.balance(clinic).received) == (0, 1)


# --- date ranges --------------------------------------------------------------------------


@pytest.fixture
def spread():
    """Received on the 1st, 10th and 20th; sent on the 5th and 20th."""
    clinic = partner()
    for n in (1, 10, 20):
        professional.record_referral(clinic, direction="received", date=day(n))
    for n in (5, 20):
        professional.record_referral(clinic, direction="sent", date=day(n))
    return clinic


@pytest.mark.parametrize(
    ("start", "end", "sent", "received"),
    [
        (None, None, 2, 3),
        (day(1), day(20), 2, 3),  # both ends included
        (day(2), day(19), 1, 1),
        (day(10), day(10), 0, 1),
        (day(5), None, 2, 2),  # open end
        (None, day(5), 1, 1),  # open start
        (day(21), None, 0, 0),
        (day(11), day(19), 0, 0),
    ],
)
def test_balances_over_a_date_range(spread, start, end, sent, received):
    result = professional.balance(spread, start=start, end=end)
    assert (result.sent, result.received) == (sent, received)
    (row,) = professional.balances(start=start, end=end)
    assert (row.sent, row.received) == (sent, received)


def test_a_start_after_the_end_is_refused(spread):
    with pytest.raises(InvalidArgument, match="start date is after the end date"):
        professional.balance(spread, start=day(10), end=day(9))
    with pytest.raises(InvalidArgument, match="start date is after the end date"):
        professional.balances(start=day(10), end=day(9))


@pytest.mark.parametrize(
    "kwargs",
    [{"start": "2026-01-01"}, {"end": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, {"start": 1}],
)
def test_range_ends_must_be_dates(spread, kwargs):
    with pytest.raises(InvalidArgument, match="must be a date"):
        professional.balance(spread, **kwargs)


# --- the report ---------------------------------------------------------------------------


def test_balances_put_the_largest_debts_first_then_by_name():
    bravo = partner("Bravo")
    exchange(bravo, received=1)  # +1
    alpha = partner("Alpha")
    exchange(alpha, sent=1)  # -1
    zulu = partner("Zulu")
    exchange(zulu, sent=4, received=1)  # -3
    yankee = partner("Yankee")
    exchange(yankee, received=3)  # +3
    charlie = partner("Charlie")  # even
    echo = partner("Echo")
    exchange(echo, received=2)  # +2

    report = professional.balances()

    assert [(row.partner.name, row.balance) for row in report] == [
        ("Yankee", 3),
        ("Zulu", -3),
        ("Echo", 2),
        ("Alpha", -1),
        ("Bravo", 1),
        ("Charlie", 0),
    ]
    assert report[1].description == "We owe them 3 referrals"
    assert report[-1].partner == charlie


def test_inactive_partners_are_left_out_unless_asked_for():
    active = partner("Active")
    exchange(active, received=1)
    retired = partner("Retired", active=False)
    exchange(retired, received=5)

    assert [row.partner for row in professional.balances()] == [active]
    both = professional.balances(include_inactive=True)
    assert [(row.partner, row.balance) for row in both] == [(retired, 5), (active, 1)]


def test_balances_of_some_partners():
    clinics = [partner(f"Clinic {n}", specialty="Dermatology" if n % 2 else "") for n in range(4)]
    for n, clinic in enumerate(clinics):
        exchange(clinic, received=n)
    some = Partner.objects.filter(specialty="Dermatology")
    assert [(row.partner.name, row.received) for row in professional.balances(partners=some)] == [
        ("Clinic 3", 3),
        ("Clinic 1", 1),
    ]


def test_the_report_is_one_query(django_assert_num_queries):
    for n in range(6):
        clinic = partner(f"Clinic {n}")
        exchange(clinic, sent=n % 3, received=n, date=day(n + 1))

    with django_assert_num_queries(1):
        report = professional.balances(start=day(2), end=day(5))
        rows = [(row.partner.name, row.sent, row.received, row.description) for row in report]

    assert rows == [
        ("Clinic 3", 0, 3, "They owe us 3 referrals"),
        ("Clinic 4", 1, 4, "They owe us 3 referrals"),
        ("Clinic 0", 0, 0, "Even"),
        ("Clinic 1", 1, 1, "Even"),
        ("Clinic 2", 2, 2, "Even"),
        ("Clinic 5", 0, 0, "Even"),
    ]


def test_with_counts_annotates_a_queryset():
    clinic = partner()
    exchange(clinic, sent=1, received=4)
    row = professional.with_counts().get(pk=clinic.pk)
    assert (row.referrals_sent, row.referrals_received, row.referral_balance) == (1, 4, 3)
