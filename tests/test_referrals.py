"""Sign-up attaches the new customer to the referrer (customer_signed_up)."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.urls import reverse

from django_referral_rewards import signals, testing
from django_referral_rewards.exceptions import (
    AlreadyReferred,
    CodeExpired,
    CodeNotFound,
    OwnCode,
)
from django_referral_rewards.models import CodeUse, Referral, ReferralCode
from django_referral_rewards.services import attribution, codes, events
from django_referral_rewards.services.accounts import get_or_create_account
from tests.conftest import days


@pytest.fixture
def referrer(db, program):
    return testing.make_user("referrer")


@pytest.fixture
def code(referrer):
    return codes.get_or_create_personal_code(referrer)


@pytest.fixture
def attached(db):
    calls: dict[str, list] = {"referral_attached": [], "referral_converted": []}

    def make(name):
        def receiver(**kwargs):
            calls[name].append(kwargs)

        return receiver

    receivers = {name: make(name) for name in calls}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, weak=False)
    yield calls
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


@pytest.mark.django_db
def test_typed_code_attaches_the_customer(
    code, referrer, attached, django_capture_on_commit_callbacks
):
    customer = testing.make_user("newbie")
    with django_capture_on_commit_callbacks(execute=True):
        referral = events.customer_signed_up(customer, code=code.code.lower())
    assert referral.referrer == get_or_create_account(referrer)
    assert referral.referred == get_or_create_account(customer)
    assert (referral.status, referral.code, referral.converted_at) == ("pending", code, None)
    assert CodeUse.objects.get().customer == referral.referred
    (call,) = attached["referral_attached"]
    assert call["referral"] == referral and call["referrer"] == referral.referrer
    assert attached["referral_converted"] == []


@pytest.mark.django_db
def test_programs_converting_at_signup(code, program, attached, django_capture_on_commit_callbacks):
    program.conversion_event = "signup"
    program.save()
    with django_capture_on_commit_callbacks(execute=True):
        referral = events.customer_signed_up(testing.make_user(), code=code.code)
    assert referral.status == "converted" and referral.converted_at is not None
    assert len(attached["referral_converted"]) == 1


@pytest.mark.django_db
def test_remembered_code_from_a_share_link(client, code):
    client.get(f"/r/{code.code}/")
    request = RequestFactory().get("/signup/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    request.session = client.session
    customer = testing.make_user()
    referral = events.customer_signed_up(customer, request=request)
    assert referral.code == code
    assert attribution.remembered_code(request) is None  # used up


@pytest.mark.django_db
def test_no_code_means_no_referral_but_an_account(program):
    customer = testing.make_user()
    assert events.customer_signed_up(customer) is None
    assert events.customer_signed_up(customer, request=RequestFactory().get("/")) is None
    assert get_or_create_account(customer).pk is not None
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_a_bad_typed_code_raises_and_writes_nothing(code, now):
    with pytest.raises(CodeNotFound):
        events.customer_signed_up(testing.make_user(), code="NOPE")
    ReferralCode.objects.filter(pk=code.pk).update(expires_at=now - days(1))
    with pytest.raises(CodeExpired):
        events.customer_signed_up(testing.make_user(), code=code.code)
    assert not Referral.objects.exists() and not CodeUse.objects.exists()


@pytest.mark.django_db
def test_a_stale_remembered_code_is_dropped_silently(client, code):
    client.get(f"/r/{code.code}/")
    codes.set_active([code], active=False)
    request = RequestFactory().get("/signup/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    request.session = client.session
    assert events.customer_signed_up(testing.make_user(), request=request) is None
    assert attribution.SESSION_KEY not in request.session


@pytest.mark.django_db
def test_nobody_refers_themselves(code, referrer):
    with pytest.raises(OwnCode):
        events.customer_signed_up(referrer, code=code.code)
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_the_database_refuses_self_referral(account, program):
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(program=program, referrer=account, referred=account)


@pytest.mark.django_db
def test_signing_up_twice_acts_once_and_a_second_code_is_refused(code, program):
    customer = testing.make_user()
    first = events.customer_signed_up(customer, code=code.code)
    assert events.customer_signed_up(customer, code=code.code).pk == first.pk
    assert CodeUse.objects.count() == 1
    other = codes.get_or_create_personal_code(testing.make_user())
    with pytest.raises(AlreadyReferred):
        events.customer_signed_up(customer, code=other.code)
    assert Referral.objects.count() == 1


@pytest.mark.django_db
def test_house_campaign_codes_have_no_referrer(program):
    codes.create_code("WELCOME", max_uses=10)
    referral = events.customer_signed_up(testing.make_user(), code="welcome")
    assert referral.referrer is None and str(referral).endswith("WELCOME")


@pytest.mark.django_db
def test_the_code_decides_the_program(referrer):
    shop_b = testing.make_program("shop-b")
    code_b = codes.get_or_create_personal_code(referrer, program=shop_b)
    referral = events.customer_signed_up(testing.make_user(), code=code_b.code)
    assert referral.program == shop_b
    with pytest.raises(CodeNotFound):
        events.customer_signed_up(testing.make_user(), code=code_b.code, program="default")


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_racing_signup_events_attach_once(program):
    code = codes.get_or_create_personal_code(testing.make_user())
    customer = testing.make_user()
    barrier, results = threading.Barrier(8), []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(events.customer_signed_up(customer, code=code.code))
        except Exception as exc:  # collected and asserted on
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 8
    assert all(isinstance(r, Referral) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Referral.objects.count() == 1 and CodeUse.objects.count() == 1


@pytest.mark.django_db
def test_referral_admin(client, django_user_model, code):
    events.customer_signed_up(testing.make_user(), code=code.code)
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    assert client.get(reverse("admin:referral_rewards_referral_changelist")).status_code == 200
    referral = Referral.objects.get()
    page = client.get(reverse("admin:referral_rewards_referral_change", args=[referral.pk]))
    assert page.status_code == 200
    assert client.get(reverse("admin:referral_rewards_referral_add")).status_code == 403


@pytest.mark.django_db
def test_signup_with_a_limited_code_uses_a_fixed_number_of_queries(
    program, django_assert_max_num_queries
):
    codes.create_code("LIMITED", max_uses=10, max_uses_per_customer=1)
    customer = testing.make_user()
    # lookup, checks, member + account creation, referral check, the fraud checks
    # (already a customer, velocity), the locked use, the referral, the reward rules —
    # the code is looked up and validated once.
    with django_assert_max_num_queries(24):
        events.customer_signed_up(customer, code="LIMITED")
    assert ReferralCode.objects.get(code="LIMITED").times_used == 1
