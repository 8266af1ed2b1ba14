"""The pre-expiry notice: which lots, once per lot, the e-mail, the signal, failures,
batching and the command."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat

from django_referral_rewards import signals, testing
from django_referral_rewards.adapter import Notifier
from django_referral_rewards.enums import Unit
from django_referral_rewards.models import EarnLot
from django_referral_rewards.services import ledger, notices

from .conftest import days

pytestmark = pytest.mark.django_db


@pytest.fixture
def warned(program):
    program.name = "Coffee Club"
    program.expiry_notice_days = 14
    program.save()
    return program


@pytest.fixture
def expiring():
    seen: list[dict] = []

    def receiver(sender, **kwargs):
        seen.append({"sender": sender, **kwargs})

    signals.points_expiring.connect(receiver)
    yield seen
    signals.points_expiring.disconnect(receiver)


def member_account(program, **member_fields):
    member = testing.make_member(**member_fields)
    return testing.make_account(member, program=program)


def lot(account, amount, expires_at, unit=Unit.POINTS) -> EarnLot:
    entry = ledger.credit(account, amount, unit=unit, reason="earned", expires_at=expires_at)
    return EarnLot.objects.get(entry=entry)


def run(now, **kwargs):
    return notices.notify_expiring(now=now, **kwargs)


def counts(result) -> tuple[int, int, int]:
    return (result.accounts, result.lots, result.points)


def long_date(moment: dt.datetime) -> str:
    return dateformat.format(moment, "N j, Y")  # DATE_FORMAT of the en locale


def test_each_lot_is_announced_once(warned, now, expiring, django_capture_on_commit_callbacks):
    account = member_account(warned, name="Ana", email="ana@example.com")
    first = lot(account, 100, now + days(10))
    second = lot(account, 50, now + days(12))
    with django_capture_on_commit_callbacks(execute=True):
        assert counts(run(now)) == (1, 2, 150)
    assert len(mail.outbox) == 1 and len(expiring) == 1
    assert set(EarnLot.objects.values_list("notified_at", flat=True)) == {now}

    with django_capture_on_commit_callbacks(execute=True):
        assert counts(run(now + days(1))) == (0, 0, 0)
    assert len(mail.outbox) == 1 and len(expiring) == 1

    # A lot earned later gets its own notice, about itself only.
    third = lot(account, 30, now + days(13))
    with django_capture_on_commit_callbacks(execute=True):
        assert counts(run(now + days(2))) == (1, 1, 30)
    assert len(mail.outbox) == 2
    assert [item.pk for item in expiring[-1]["lots"]] == [third.pk]
    assert {first.pk, second.pk} == {item.pk for item in expiring[0]["lots"]}


def test_the_window(warned, now):
    account = member_account(warned)
    inside = [
        lot(account, 1, now + dt.timedelta(seconds=1)),
        lot(account, 2, now + days(14)),  # the last moment of the window
    ]
    outside = [
        lot(account, 4, now),  # expiring now: the expiry sweep's, not a notice's
        lot(account, 8, now + days(14) + dt.timedelta(seconds=1)),
        lot(account, 16, None),  # never expires
        lot(account, 32, now + days(3), unit=Unit.CREDIT),  # not points
    ]
    spent = lot(account, 64, now + dt.timedelta(seconds=2))
    EarnLot.objects.filter(pk=spent.pk).update(remaining=0)
    assert counts(run(now)) == (1, 2, 3)
    notified = set(EarnLot.objects.filter(notified_at=now).values_list("pk", flat=True))
    assert notified == {item.pk for item in inside}
    assert not notified & {item.pk for item in [*outside, spent]}


def test_programs_without_notice_days_are_skipped(warned, now):
    quiet = testing.make_program()
    other = member_account(quiet)
    skipped = lot(other, 10, now + days(1))
    account = member_account(warned)
    lot(account, 20, now + days(1))
    assert counts(run(now)) == (1, 1, 20)
    assert EarnLot.objects.get(pk=skipped.pk).notified_at is None
    # Only one program when asked.
    lot(account, 5, now + days(2))
    assert counts(run(now, program=quiet.slug)) == (0, 0, 0)
    assert counts(run(now, program=warned)) == (1, 1, 5)


def test_the_email(warned, now, django_capture_on_commit_callbacks):
    account = member_account(warned, name="Ana Díaz", email="ana@example.com")
    ledger.credit(account, 500, reason="never expires")
    soon, later = now + days(3), now + days(9)
    lot(account, 120, later)
    lot(account, 80, soon)
    with django_capture_on_commit_callbacks(execute=True):
        run(now)
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert message.subject == "200 Coffee Club points expire soon"
    body = message.body
    assert body.startswith("Hello Ana Díaz,\n")
    assert body == (
        "Hello Ana Díaz,\n\n"
        "200 of your Coffee Club points expire soon:\n"
        f"- 80 points on {long_date(soon)}\n"
        f"- 120 points on {long_date(later)}\n\n"
        "Your balance is 700 points. Spend them before they expire.\n"
    )
    assert "{" not in body and "&" not in body


def test_the_email_for_one_lot_and_a_member_without_a_name(
    warned, now, django_capture_on_commit_callbacks
):
    user = testing.make_user(email="user@example.com")
    member = testing.make_member(user, name="", email="")  # the user's address is used
    account = testing.make_account(member, program=warned)
    when = now + days(5)
    lot(account, 1, when)
    with django_capture_on_commit_callbacks(execute=True):
        run(now)
    (message,) = mail.outbox
    assert message.to == ["user@example.com"]
    assert message.subject == "1 Coffee Club point expires soon"
    assert message.body.startswith("Hello,\n")
    assert f"1 of your Coffee Club points expires on {long_date(when)}." in message.body
    assert "Your balance is 1 point." in message.body


def test_members_without_an_address_get_no_email_but_are_marked(
    warned, now, expiring, django_capture_on_commit_callbacks
):
    account = member_account(warned, user=False, email="")
    item = lot(account, 10, now + days(1))
    with django_capture_on_commit_callbacks(execute=True):
        assert counts(run(now)) == (1, 1, 10)
    assert mail.outbox == []
    assert EarnLot.objects.get(pk=item.pk).notified_at == now
    assert len(expiring) == 1  # hosts may still send an SMS
    assert counts(run(now)) == (0, 0, 0)


def test_the_signal_after_commit(warned, now, expiring, django_capture_on_commit_callbacks):
    account = member_account(warned)
    late = lot(account, 7, now + days(6))
    early = lot(account, 5, now + days(2))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run(now)
    assert expiring == [] and mail.outbox == []
    for callback in callbacks:
        callback()
    (sent,) = expiring
    assert sent["sender"] is EarnLot
    assert sent["account"].pk == account.pk
    assert (sent["amount"], sent["expires_at"]) == (12, now + days(2))
    assert [item.pk for item in sent["lots"]] == [early.pk, late.pk]


class FlakyNotifier(Notifier):
    def points_expiring(self, account, **kwargs):
        if account.member.name == "Broken":
            raise RuntimeError("SMS gateway down")
        return super().points_expiring(account, **kwargs)


def test_a_failing_notifier_does_not_stop_the_others(
    warned, now, expiring, settings, caplog, django_capture_on_commit_callbacks
):
    settings.REFERRAL_REWARDS_NOTIFIER = "tests.test_notices.FlakyNotifier"
    broken = member_account(warned, name="Broken", email="broken@example.com")
    fine = member_account(warned, name="Fine", email="fine@example.com")
    lot(broken, 10, now + days(1))
    lot(fine, 20, now + days(1))
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        assert counts(run(now)) == (2, 2, 30)
    assert [message.to for message in mail.outbox] == [["fine@example.com"]]
    assert {sent["account"].pk for sent in expiring} == {broken.pk, fine.pk}
    assert f"account {broken.pk}" in caplog.text and "SMS gateway down" in caplog.text
    assert not EarnLot.objects.filter(notified_at__isnull=True).exists()


def test_queries_grow_with_batches_not_lots(
    warned, now, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    for _ in range(5):
        lot(member_account(warned), 10, now + days(1))
    with CaptureQueriesContext(connection) as small:
        assert counts(run(now, batch_size=100)) == (5, 5, 50)
    for _ in range(25):
        account = member_account(warned)
        lot(account, 10, now + days(2))
        lot(account, 5, now + days(3))
    with (
        django_assert_max_num_queries(len(small.captured_queries)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert counts(run(now, batch_size=100)) == (25, 50, 375)
    assert len(mail.outbox) == 25  # one e-mail per account, whatever its lots


def test_an_account_whose_lots_straddle_batches_gets_one_notice(
    warned, now, expiring, django_capture_on_commit_callbacks
):
    accounts = [member_account(warned) for _ in range(3)]
    for account in accounts:
        lot(account, 1, now + days(1))
    for account in accounts:
        lot(account, 2, now + days(2))
    with django_capture_on_commit_callbacks(execute=True):
        assert counts(run(now, batch_size=2)) == (3, 6, 9)
    assert sorted((sent["account"].pk, sent["amount"]) for sent in expiring) == sorted(
        (account.pk, 3) for account in accounts
    )


def test_notify_expiring_command(warned, now):
    account = member_account(warned)
    lot(account, 40, now + days(20))
    out = io.StringIO()
    call_command("rewards_notify_expiring", "--batch-size", "10", stdout=out)
    assert out.getvalue().strip() == "Warned 0 account(s) of 0 point(s) expiring in 0 lot(s)."
    out = io.StringIO()
    later = (now + days(7)).isoformat()
    call_command("rewards_notify_expiring", "--now", later, "--program", "default", stdout=out)
    assert out.getvalue().strip() == "Warned 1 account(s) of 40 point(s) expiring in 1 lot(s)."
    with pytest.raises(CommandError, match="No program"):
        call_command("rewards_notify_expiring", "--program", "missing")
    with pytest.raises(CommandError, match="time zone"):
        call_command("rewards_notify_expiring", "--now", "2030-01-01T00:00")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("rewards_notify_expiring", "--batch-size", "0")


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_racing_sweeps_announce_each_lot_once(warned, now, expiring):
    from .concurrency import run_workers, split

    accounts = [member_account(warned, email=f"m{i}@example.com") for i in range(12)]
    for account in accounts:
        lot(account, 10, now + days(1))
        lot(account, 5, now + days(2))
    outcomes = run_workers(4, lambda i: notices.notify_expiring(now=now, batch_size=3))
    results, _ = split(outcomes)
    assert sum(result.lots for result in results) == 24
    assert sum(result.points for result in results) == 180
    # Each lot is in exactly one notice (two workers may each warn an account about
    # different lots of it).
    announced = [item.pk for sent in expiring for item in sent["lots"]]
    assert sorted(announced) == sorted(EarnLot.objects.values_list("pk", flat=True))
    assert len(mail.outbox) == len(expiring) == sum(result.accounts for result in results)
    assert {sent["account"].pk for sent in expiring} == {account.pk for account in accounts}
    assert not EarnLot.objects.filter(notified_at__isnull=True).exists()
