"""Outbound webhooks: the outbox written with the event, signed delivery to a real HTTP
receiver on localhost, retries with backoff, replay, the admin, the command, and
concurrent workers."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from django_referral_rewards import signals, signing, tasks, testing
from django_referral_rewards.enums import WebhookDeliveryStatus as Status
from django_referral_rewards.exceptions import (
    InvalidArgument,
    InvalidTransition,
    SignatureInvalid,
)
from django_referral_rewards.fraud import Signal as FraudSignal
from django_referral_rewards.models import (
    Account,
    EarnLot,
    LedgerEntry,
    Payout,
    Redemption,
    Referral,
    RewardGrant,
    Tier,
    Voucher,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from django_referral_rewards.services import codes, events, ledger, webhooks
from django_referral_rewards.webhooks import payloads

from .concurrency import run_workers, split

SECRET = "whsec-test-0123456789abcdef0123456789abcdef"


# --- a real receiver ------------------------------------------------------------------


class Receiver:
    """An HTTP server on localhost (its own thread) that checks each request's signature
    with :func:`signing.verify` and answers with the next planned status (200 when
    none is planned)."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.planned: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    signing.verify(
                        receiver.secret, self.headers.get(signing.SIGNATURE_HEADER, ""), body
                    )
                    valid = True
                except SignatureInvalid:
                    valid = False
                with receiver.lock:
                    status = receiver.planned.pop(0) if receiver.planned else 200
                    receiver.requests.append(
                        {
                            "headers": dict(self.headers),
                            "body": body,
                            "json": json.loads(body),
                            "valid": valid,
                            "status": status,
                        }
                    )
                if not valid:
                    status = 400
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"nope: " + b"x" * 2000)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def received(self) -> list[dict[str, Any]]:
        return [request["json"] for request in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(db, receiver) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(name="Receiver", url=receiver.url, secret=SECRET)


@pytest.fixture
def immediate(settings):
    settings.REFERRAL_REWARDS_WEBHOOK_DELIVERY = "immediate"


def later(minutes: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def credit(account: Account, amount: int = 100) -> LedgerEntry:
    return ledger.credit(account, amount, reason="Bonus")


# --- the outbox and a signed delivery -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_receiver_gets_a_correctly_signed_delivery_after_commit(
    receiver, endpoint, immediate, program
):
    account = testing.make_account(program=program)
    with transaction.atomic():
        entry = credit(account, 120)
        # Written with the event, in its transaction; nothing is sent before the commit.
        delivery = WebhookDelivery.objects.get()
        assert receiver.requests == []
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["valid"] is True
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Referral-Rewards-Event"] == "points_credited"
    assert headers["Referral-Rewards-Delivery"] == str(delivery.event_id)
    assert headers["User-Agent"].startswith("django-referral-rewards/")
    # The signature covers the exact body sent.
    assert signing.verify(SECRET, headers[signing.SIGNATURE_HEADER], request["body"]) == SECRET
    with pytest.raises(SignatureInvalid):
        signing.verify("another-secret", headers[signing.SIGNATURE_HEADER], request["body"])
    body = request["json"]
    assert body["id"] == str(delivery.event_id)
    assert body["event"] == "points_credited"
    assert dt.datetime.fromisoformat(body["created_at"]) == delivery.created_at
    assert body["data"] == {
        "entry": {
            "id": entry.pk,
            "account_id": account.pk,
            "unit": "points",
            "kind": "earn",
            "amount": 120,
            "balance_after": 120,
            "reverses_id": None,
            "reference_type": "",
            "reference_id": "",
            "expires_at": None,
            "created_at": entry.created_at.isoformat(),
        },
        "account": {
            "id": account.pk,
            "program": "default",
            "member_id": account.member_id,
            "points_balance": 120,
            "held_points": 0,
            "credit_balance": 0,
            "commission_balance": 0,
            "lifetime_points": 120,
            "tier_id": None,
        },
        "amount": 120,
        "balance": 120,
    }
    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert delivery.attempts == 1
    assert delivery.next_attempt_at is None
    assert delivery.delivered_at is not None
    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.error, attempt.response) == (
        1,
        200,
        "",
        "ok",
    )


@pytest.mark.django_db(transaction=True)
def test_nothing_is_written_or_sent_for_a_rolled_back_transaction(
    receiver, endpoint, immediate, program
):
    account = testing.make_account(program=program)

    class Boom(Exception):
        pass

    written_inside: list[int] = []

    def change_then_fail() -> None:
        with transaction.atomic():
            credit(account)
            written_inside.append(WebhookDelivery.objects.count())
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    assert written_inside == [1]  # in the transaction ...
    assert WebhookDelivery.objects.count() == 0  # ... and gone with it
    assert webhooks.deliver_due() == webhooks.DeliveryRun()
    assert receiver.requests == []
    # A rolled-back savepoint inside a committed transaction: the same.
    with transaction.atomic():
        try:
            with transaction.atomic():
                credit(account)
                raise Boom
        except Boom:
            pass
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


def test_one_event_id_for_every_endpoint_and_one_row_each(db, receiver, program):
    first = WebhookEndpoint.objects.create(name="A", url=receiver.url, secret=SECRET)
    second = WebhookEndpoint.objects.create(name="B", url=receiver.url, secret=SECRET)
    account = testing.make_account(program=program)
    credit(account)
    rows = list(WebhookDelivery.objects.order_by("endpoint_id"))
    assert [row.endpoint_id for row in rows] == [first.pk, second.pk]
    assert rows[0].event_id == rows[1].event_id
    assert rows[0].payload == rows[1].payload
    assert rows[0].status == Status.PENDING and rows[0].next_attempt_at is not None


def test_endpoints_filtered_by_event_and_by_program(db, receiver, program):
    other = testing.make_program()
    everything = WebhookEndpoint.objects.create(name="all", url=receiver.url)
    attached_only = WebhookEndpoint.objects.create(
        name="attached", url=receiver.url, events=["referral_attached"]
    )
    other_program = WebhookEndpoint.objects.create(name="other", url=receiver.url, program=other)
    this_program = WebhookEndpoint.objects.create(
        name="this", url=receiver.url, program=program, events=["points_credited"]
    )
    WebhookEndpoint.objects.create(name="off", url=receiver.url, active=False)

    credit(testing.make_account(program=program))
    assert set(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == {
        everything.pk,
        this_program.pk,
    }
    WebhookDelivery.objects.all().delete()

    referrer = testing.make_user()
    code = codes.get_or_create_personal_code(referrer, program=program)
    referral = events.customer_signed_up(testing.make_user(), code=code.code, program=program)
    assert referral is not None
    attached = WebhookDelivery.objects.filter(event="referral_attached")
    assert set(attached.values_list("endpoint_id", flat=True)) == {
        everything.pk,
        attached_only.pk,
    }
    payload = attached.first().payload
    assert payload["data"]["referral"]["id"] == referral.pk
    assert payload["data"]["referral"]["program"] == program.slug
    assert payload["data"]["referral"]["status"] == "pending"
    assert payload["data"]["referred"]["id"] == referral.referred_id
    WebhookDelivery.objects.all().delete()

    credit(testing.make_account(program=other))
    assert set(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == {
        everything.pk,
        other_program.pk,
    }


def test_no_row_when_no_endpoint_wants_the_event(db, receiver, program):
    WebhookEndpoint.objects.create(name="a", url=receiver.url, events=["payout_requested"])
    WebhookEndpoint.objects.create(name="b", url=receiver.url, program=program)
    credit(testing.make_account(program=testing.make_program()))
    # An event about no program at all reaches only endpoints for every program.
    webhooks.record_event(signals.points_credited, {"amount": 1, "sender": LedgerEntry})
    assert not WebhookDelivery.objects.exists()


def test_signals_that_are_not_outbound_events_write_nothing(db, endpoint):
    signals.send_on_commit(signals.order_completed, sender=None, order_id="1")
    assert webhooks.event_name(signals.order_completed) is None
    assert webhooks.event_name(signals.referral_converted) == "referral_converted"
    assert not WebhookDelivery.objects.exists()


# --- the endpoint cache (hot path) ----------------------------------------------------


def test_no_endpoints_costs_no_query_once_cached(db, program, django_assert_num_queries):
    account = testing.make_account(program=program)
    webhooks.active_endpoints()  # fills the cache
    with django_assert_num_queries(0):
        webhooks.record_event(signals.points_credited, {"account": account})
    assert not WebhookDelivery.objects.exists()


def test_saving_or_deleting_an_endpoint_refreshes_the_cache(db, receiver, program):
    account = testing.make_account(program=program)
    assert webhooks.active_endpoints() == []
    endpoint = WebhookEndpoint.objects.create(name="new", url=receiver.url)
    assert webhooks.active_endpoints() == [(endpoint.pk, (), None)]
    credit(account)
    assert WebhookDelivery.objects.count() == 1
    endpoint.active = False
    endpoint.save()
    assert webhooks.active_endpoints() == []
    endpoint.delete()
    assert webhooks.active_endpoints() == []


def test_a_zero_cache_time_reads_the_endpoints_every_time(
    db, receiver, settings, django_assert_num_queries
):
    settings.REFERRAL_REWARDS_WEBHOOK_ENDPOINT_CACHE_SECONDS = 0
    webhooks.active_endpoints()
    with django_assert_num_queries(1):
        webhooks.active_endpoints()


# --- retries, backoff, giving up --------------------------------------------------------


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt(receiver, endpoint, program):
    receiver.planned = [500, 500]
    credit(testing.make_account(program=program))
    delivery = WebhookDelivery.objects.get()
    start = timezone.now()

    first = webhooks.deliver_due(now=start)
    assert first == webhooks.DeliveryRun(retried=1, batches=1)
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert delivery.attempts == 1
    assert delivery.next_attempt_at == start + dt.timedelta(seconds=30)
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    # Not due yet: nothing is sent.
    assert webhooks.deliver_due(now=start + dt.timedelta(seconds=29)) == webhooks.DeliveryRun()

    second = webhooks.deliver_due(now=start + dt.timedelta(seconds=30))
    assert second.retried == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + dt.timedelta(seconds=90)  # 30 s + 60 s

    third = webhooks.deliver_due(now=start + dt.timedelta(seconds=90))
    assert third == webhooks.DeliveryRun(delivered=1, batches=1)
    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert delivery.attempts == 3
    assert delivery.last_error == ""
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[0].error == "HTTP 500 Internal Server Error"
    assert len(attempts[0].response) == 1000  # an excerpt of the answer
    assert all(a.duration_ms >= 0 for a in attempts)
    # The receiver got the same event (same id) three times, each validly signed.
    assert [r["valid"] for r in receiver.requests] == [True, True, True]
    assert len({r["json"]["id"] for r in receiver.requests}) == 1
    # Settled: nothing more to do.
    assert webhooks.deliver_due(now=start + dt.timedelta(days=1)) == webhooks.DeliveryRun()


def test_backoff_doubles_up_to_six_hours():
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.backoff(11) == dt.timedelta(hours=6)
    assert webhooks.backoff(500) == dt.timedelta(hours=6)


def test_gives_up_after_the_maximum_attempts(receiver, endpoint, program, settings):
    settings.REFERRAL_REWARDS_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.planned = [503, 503, 503]
    credit(testing.make_account(program=program))
    assert webhooks.deliver_due(now=later(0)).retried == 1
    assert webhooks.deliver_due(now=later(10)) == webhooks.DeliveryRun(failed=1, batches=1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.attempts == 2
    assert webhooks.deliver_due(now=later(600)) == webhooks.DeliveryRun()
    assert len(receiver.requests) == 2


def test_no_answer_is_a_failed_attempt(db, program):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    WebhookEndpoint.objects.create(name="down", url=f"http://127.0.0.1:{port}/")
    credit(testing.make_account(program=program))
    assert webhooks.deliver_due().retried == 1
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "URLError" in attempt.error or "refused" in attempt.error.lower()


def test_redirects_and_other_schemes_are_not_followed(db, receiver):
    response = webhooks.post("file:///etc/passwd", b"{}", {}, timeout=1)
    assert response.status_code is None and not response.ok
    assert "http" in response.error

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", receiver.url)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        response = webhooks.post(url, b"{}", {}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 302 and not response.ok
    assert receiver.requests == []


def test_an_inactive_endpoint_cancels_its_pending_deliveries(receiver, endpoint, program):
    credit(testing.make_account(program=program))
    endpoint.active = False
    endpoint.save()
    assert webhooks.deliver_due() == webhooks.DeliveryRun(cancelled=1, batches=1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.CANCELLED
    assert delivery.next_attempt_at is None
    assert "inactive" in delivery.last_error
    assert receiver.requests == []
    # No new deliveries for it either.
    credit(testing.make_account(program=program))
    assert WebhookDelivery.objects.count() == 1


def test_a_deleted_endpoint_behind_a_stale_cache_cancels_its_deliveries(
    receiver, endpoint, program
):
    routes = webhooks.active_endpoints()  # another process cached the endpoint ...
    endpoint.delete()  # ... that is deleted here
    cache.set(webhooks.ENDPOINTS_CACHE_KEY, routes)  # (the other process puts it back)
    credit(testing.make_account(program=program))  # a stale route: the row still commits
    assert WebhookDelivery.objects.count() == 1
    assert webhooks.deliver_due() == webhooks.DeliveryRun(cancelled=1, batches=1)
    assert receiver.requests == []


def test_the_secret_is_read_at_send_time(receiver, endpoint, program):
    credit(testing.make_account(program=program))
    new = webhooks.rotate_secret(endpoint)
    assert new != SECRET and len(new) >= 40
    receiver.secret = new
    assert webhooks.deliver_due().delivered == 1
    assert receiver.requests[0]["valid"] is True


def test_lost_lease_is_not_recorded(receiver, endpoint, program):
    """A worker whose lease ran out (another took the row over) records nothing."""
    credit(testing.make_account(program=program))
    now = timezone.now()
    (claimed,), _cancelled, lease = webhooks._claim(
        WebhookDelivery.objects.filter(status=Status.PENDING), now=now, batch_size=10
    )
    WebhookDelivery.objects.update(next_attempt_at=now + dt.timedelta(hours=1))  # taken over
    delivery, found = claimed
    assert webhooks._attempt(delivery, found, lease=lease, now=None) == ""
    assert not WebhookAttempt.objects.exists()
    assert WebhookDelivery.objects.get().attempts == 0


# --- deliver now and replay -------------------------------------------------------------


def test_deliver_now_tries_a_pending_delivery_before_its_retry(receiver, endpoint, program):
    receiver.planned = [500]
    credit(testing.make_account(program=program))
    delivery = WebhookDelivery.objects.get()
    webhooks.deliver_due()
    delivery.refresh_from_db()
    assert delivery.next_attempt_at > timezone.now()
    webhooks.deliver(delivery)
    assert delivery.status == Status.DELIVERED
    assert delivery.attempts == 2
    with pytest.raises(InvalidTransition):
        webhooks.deliver(delivery)


def test_replay_sends_a_delivered_one_again_as_a_new_attempt(
    receiver, endpoint, program, immediate, django_capture_on_commit_callbacks
):
    credit(testing.make_account(program=program))
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.DELIVERED
    with pytest.raises(InvalidArgument):
        webhooks.replay(delivery, by=testing.make_user())  # not staff
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.replay(delivery)
    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert delivery.attempts == 2
    assert [r["json"]["id"] for r in receiver.requests] == [str(delivery.event_id)] * 2
    assert list(delivery.attempt_log.values_list("number", flat=True)) == [1, 2]


def test_replay_refuses_pending_ones_and_inactive_endpoints(receiver, endpoint, program):
    credit(testing.make_account(program=program))
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(InvalidTransition):
        webhooks.replay(delivery)
    endpoint.active = False
    endpoint.save()
    webhooks.deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == Status.CANCELLED
    with pytest.raises(InvalidArgument):
        webhooks.replay(delivery)
    endpoint.active = True
    endpoint.save()
    webhooks.replay(delivery)
    assert webhooks.deliver_due().delivered == 1


def test_a_failed_delivery_replayed_gets_one_more_attempt(receiver, endpoint, program, settings):
    settings.REFERRAL_REWARDS_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.planned = [500, 500]
    credit(testing.make_account(program=program))
    assert webhooks.deliver_due().failed == 1
    delivery = WebhookDelivery.objects.get()
    webhooks.replay(delivery)
    assert webhooks.deliver_due().failed == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 2)


# --- how delivery starts after commit ------------------------------------------------------


def test_command_mode_leaves_it_to_the_command(
    receiver, endpoint, program, settings, django_capture_on_commit_callbacks
):
    settings.REFERRAL_REWARDS_WEBHOOK_DELIVERY = "command"
    with django_capture_on_commit_callbacks(execute=True):
        credit(testing.make_account(program=program))
    assert receiver.requests == []
    out = io.StringIO()
    call_command("rewards_deliver_webhooks", stdout=out)
    assert "Delivered 1 webhook(s)" in out.getvalue()
    assert len(receiver.requests) == 1
    out = io.StringIO()
    call_command("rewards_deliver_webhooks", "--batch-size", "5", stdout=out)
    assert "Delivered 0 webhook(s)" in out.getvalue()


def test_task_mode_enqueues_the_task_when_a_framework_is_installed(
    receiver, endpoint, program, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued: list[str] = []

    class FakeTask:
        def __call__(self, event_id: str | None = None) -> Any:
            raise AssertionError("called instead of enqueued")

        def enqueue(self, event_id: str) -> None:
            enqueued.append(event_id)

    monkeypatch.setattr(tasks, "deliver_webhooks", FakeTask())
    with django_capture_on_commit_callbacks(execute=True):
        credit(testing.make_account(program=program))
    delivery = WebhookDelivery.objects.get()
    assert enqueued == [str(delivery.event_id)]
    assert receiver.requests == []


def test_task_mode_without_a_framework_sends_nothing_at_once(
    receiver, endpoint, program, django_capture_on_commit_callbacks
):
    if tasks.HAS_TASKS:  # pragma: no cover - Django 6 / the backport
        pytest.skip("a tasks framework is installed")
    assert tasks.enqueue_delivery(uuid.uuid4()) is False
    with django_capture_on_commit_callbacks(execute=True):
        credit(testing.make_account(program=program))
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().status == Status.PENDING


def test_the_task_function_delivers(receiver, endpoint, program):
    credit(testing.make_account(program=program))
    delivery = WebhookDelivery.objects.get()
    run = getattr(tasks.deliver_webhooks, "call", tasks.deliver_webhooks)
    assert run(str(uuid.uuid4())) == {
        "delivered": 0,
        "retried": 0,
        "failed": 0,
        "cancelled": 0,
        "batches": 0,
    }
    assert run(str(delivery.event_id))["delivered"] == 1
    assert run()["delivered"] == 0


def test_a_failure_to_start_delivery_never_reaches_the_host(
    endpoint, program, immediate, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("no network")

    monkeypatch.setattr(webhooks, "deliver_due", broken)
    with django_capture_on_commit_callbacks(execute=True):
        credit(testing.make_account(program=program))
    assert "Could not start sending" in caplog.text
    assert WebhookDelivery.objects.get().status == Status.PENDING


# --- payloads ---------------------------------------------------------------------------


def test_payloads_of_every_model_type_hold_no_personal_data(db, program):
    now = timezone.now().replace(microsecond=0)
    account = testing.make_account(program=program)
    account.member.email = "ann@example.com"
    ctx = payloads.Context()
    payout = Payout(
        pk=7,
        program=program,
        account=account,
        amount=Decimal("12.50"),
        currency="USD",
        method="bank_transfer",
        destination="DE89 3704 0044 0532 0130 00",
        status="pending",
        requested_at=now,
    )
    voucher = Voucher(
        pk=3,
        code="SECRET-CODE-1234",
        program=program,
        account=account,
        kind="fixed",
        value=Decimal("5"),
        currency="USD",
        status="active",
        discount=Decimal("5.00"),
    )
    data = payloads.serialize(
        {
            "payout": payout,
            "voucher": voucher,
            "redemption": Redemption(pk=2, program=program, account=account, points=50),
            "grant": RewardGrant(pk=4, program=program, account=account, value=Decimal("10")),
            "tier": Tier(pk=5, program=program, name="Gold", rank=2, multiplier=Decimal("1.5")),
            "lots": [EarnLot(pk=6, account=account, amount=10, remaining=4, expires_at=now)],
            "referral": Referral(pk=8, program=program, referred=account, fraud_score=3),
            "signals": (FraudSignal(name="same_device", score=40, reason="Same device"),),
            "actor": account.member.user,
            "status": Status.DELIVERED,
            "when": now.date(),
            "key": uuid.UUID(int=1),
            "value": Decimal("2.50"),
            "other": dt.UTC,
        },
        ctx,
    )
    text = json.dumps(data)
    for secret in ("ann@example.com", "DE89", "SECRET-CODE", account.member.name):
        assert secret not in text
    assert data["payout"]["amount"] == "12.50"
    assert data["payout"]["program"] == "default"
    assert data["payout"]["requested_at"] == now.isoformat()
    assert data["voucher"]["discount"] == "5.00"
    assert data["redemption"]["points"] == 50
    assert data["grant"]["value"] == "10"
    assert data["tier"] == {
        "id": 5,
        "program": "default",
        "name": "Gold",
        "rank": 2,
        "multiplier": "1.5",
    }
    assert data["lots"][0]["remaining"] == 4
    assert data["referral"]["referred_id"] == account.pk
    assert data["signals"] == [{"name": "same_device", "score": 40, "reason": "Same device"}]
    assert data["actor"] == {"type": "auth.user", "id": account.member.user.pk}
    assert data["status"] == "delivered"
    assert data["when"] == now.date().isoformat()
    assert data["key"] == str(uuid.UUID(int=1))
    assert data["value"] == "2.50"
    assert isinstance(data["other"], str)


def test_program_slugs_are_looked_up_once_per_event(db, program, django_assert_num_queries):
    account = Account.objects.get(pk=testing.make_account(program=program).pk)  # not loaded
    ctx = payloads.Context()
    with django_assert_num_queries(1):
        assert payloads.account(account, ctx)["program"] == "default"
        assert payloads.account(account, ctx)["program"] == "default"
    assert payloads.Context().program(Tier(program_id=None)) is None


def test_the_endpoint_validates_its_events():
    from django.core.exceptions import ValidationError

    endpoint = WebhookEndpoint(name="x", url="https://example.com/", events=["nope"])
    with pytest.raises(ValidationError):
        endpoint.clean()
    endpoint.events = "points_credited"
    with pytest.raises(ValidationError):
        endpoint.clean()
    endpoint.events = ["points_credited"]
    endpoint.clean()
    assert endpoint.wants("points_credited", 1) and not endpoint.wants("points_debited", 1)
    assert str(endpoint) == "x"
    assert len(WebhookEndpoint().secret) >= 40


# --- admin ------------------------------------------------------------------------------


def _changelist(model: type) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_changelist")


def test_admin_replays_a_delivery(
    admin_client, receiver, endpoint, program, immediate, django_capture_on_commit_callbacks
):
    credit(testing.make_account(program=program))
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            _changelist(WebhookDelivery),
            {"action": "replay", "_selected_action": [delivery.pk]},
            follow=True,
        )
    assert "Queued 1 delivery to be sent again." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 2)
    assert len(receiver.requests) == 2
    # A pending one is refused and reported.
    credit(testing.make_account(program=program))
    pending = WebhookDelivery.objects.get(status=Status.PENDING)
    response = admin_client.post(
        _changelist(WebhookDelivery),
        {"action": "replay", "_selected_action": [pending.pk]},
        follow=True,
    )
    assert "cannot be replayed" in response.content.decode()


def test_admin_delivers_now_and_shows_the_attempts(admin_client, receiver, endpoint, program):
    receiver.planned = [500]
    credit(testing.make_account(program=program))
    delivery = WebhookDelivery.objects.get()
    response = admin_client.post(
        _changelist(WebhookDelivery),
        {"action": "deliver_now", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "Pending: 1." in response.content.decode()
    response = admin_client.post(
        _changelist(WebhookDelivery),
        {"action": "deliver_now", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "Delivered: 1." in response.content.decode()
    response = admin_client.post(
        _changelist(WebhookDelivery),
        {"action": "deliver_now", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "cannot be delivered" in response.content.decode()
    page = admin_client.get(
        reverse("admin:referral_rewards_webhookdelivery_change", args=[delivery.pk])
    ).content.decode()
    assert "points_credited" in page and "Internal Server Error" in page
    assert admin_client.get(_changelist(WebhookDelivery) + "?status=delivered").status_code == 200
    assert (
        admin_client.get(reverse("admin:referral_rewards_webhookdelivery_add")).status_code == 403
    )


def test_admin_edits_endpoints_and_rotates_secrets(admin_client, receiver, program):
    add = reverse("admin:referral_rewards_webhookendpoint_add")
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(
        add,
        {
            "name": "CRM",
            "url": receiver.url,
            "secret": SECRET,
            "events": ["referral_converted", "payout_requested"],
            "program": program.pk,
            "active": "on",
            "description": "",
        },
    )
    assert response.status_code == 302, response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["referral_converted", "payout_requested"]
    assert endpoint.secret == SECRET
    change = reverse("admin:referral_rewards_webhookendpoint_change", args=[endpoint.pk])
    page = admin_client.get(change).content.decode()
    assert SECRET in page and 'name="secret"' not in page  # shown, read-only
    response = admin_client.post(
        _changelist(WebhookEndpoint),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    assert "Rotated the secret of 1 endpoint" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret != SECRET
    WebhookEndpoint.objects.create(name="All", url=receiver.url)
    listing = admin_client.get(_changelist(WebhookEndpoint)).content.decode()
    assert "every event" in listing and "referral_converted, payout_requested" in listing


# --- concurrency ------------------------------------------------------------------------


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_workers_deliver_each_row_exactly_once(receiver, endpoint, program, settings):
    settings.REFERRAL_REWARDS_WEBHOOK_DELIVERY = "command"
    account = testing.make_account(program=program)
    for _ in range(12):
        credit(account, 1)
    ids = set(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert len(ids) == 12

    def work(i: int) -> webhooks.DeliveryRun:
        return webhooks.deliver_due(batch_size=3)

    results, _errors = split(run_workers(2, work))
    assert sum(run.delivered for run in results) == 12
    received = [request["json"]["id"] for request in receiver.requests]
    assert sorted(received) == sorted(str(event_id) for event_id in ids)  # each exactly once
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.DELIVERED}
    assert WebhookAttempt.objects.count() == 12


# --- the retention purge ------------------------------------------------------------------


def test_the_purge_deletes_settled_deliveries_past_the_retention(db, endpoint, program, now):
    from django_referral_rewards.services import privacy

    account = testing.make_account(program=program)
    for _ in range(4):
        credit(account)
    rows = list(WebhookDelivery.objects.order_by("pk"))
    assert len(rows) == 4
    old = now - dt.timedelta(days=181)  # REFERRAL_REWARDS_RETENTION_DAYS is 180
    statuses = [Status.DELIVERED, Status.FAILED, Status.PENDING, Status.DELIVERED]
    for row, status, created in zip(rows, statuses, [old, old, old, now], strict=True):
        WebhookDelivery.objects.filter(pk=row.pk).update(status=status, created_at=created)
    WebhookAttempt.objects.create(delivery=rows[0], number=1, status_code=200)
    result = privacy.purge_expired(now=now)
    assert result.webhook_deliveries == 2
    kept = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert kept == {rows[2].pk, rows[3].pk}  # pending stays until settled; recent stays
    assert not WebhookAttempt.objects.exists()
    assert privacy.purge_expired(now=now).webhook_deliveries == 0
