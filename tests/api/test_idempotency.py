"""Idempotency keys (api/idempotency.py): a mutating request sent again with the same
``Idempotency-Key`` acts once and gets the first answer back, whoever races it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from django_referral_rewards import testing
from django_referral_rewards.models import IdempotencyRecord, LedgerEntry
from django_referral_rewards.services import privacy

from ..concurrency import run_workers, split

URL = "/test-api/credit/"


def post(client, body, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, format="json", **headers, **extra)


def test_the_same_request_twice_acts_once_and_answers_the_same(member_api, member_user):
    first = post(member_api, {"amount": 50}, key="k-1")
    second = post(member_api, {"amount": 50}, key="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert LedgerEntry.objects.filter(account__member__user=member_user).count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.scope, record.key, record.method, record.path) == (
        f"user:{member_user.pk}",
        "k-1",
        "POST",
        URL,
    )
    assert (record.status_code, record.response) == (201, first.json())


def test_key_order_in_the_body_does_not_make_another_request(member_api):
    post(member_api, {"amount": 5, "fail": False}, key="k")
    again = member_api.post(
        URL,
        '{"fail": false, "amount": 5}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert LedgerEntry.objects.count() == 1


def test_the_same_key_with_another_body_is_refused_and_writes_nothing(member_api):
    post(member_api, {"amount": 50}, key="k-1")
    other = post(member_api, {"amount": 60}, key="k-1")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert LedgerEntry.objects.count() == 1


def test_keys_belong_to_one_client(member_api, other_api):
    assert post(member_api, {"amount": 5}, key="shared").status_code == 201
    answer = post(other_api, {"amount": 5}, key="shared")
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer.headers
    assert LedgerEntry.objects.count() == 2


def test_without_a_key_every_request_acts(member_api):
    post(member_api, {"amount": 5})
    post(member_api, {"amount": 5})
    assert LedgerEntry.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "naïve", "tab\there"])
def test_a_malformed_key_is_a_400(member_api, key):
    answer = post(member_api, {"amount": 5}, key=key)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid"
    assert "Idempotency-Key" in answer.json()["error"]["message"]
    assert answer.json()["error"]["fields"]["Idempotency-Key"][0]["code"] == "invalid"
    assert not LedgerEntry.objects.exists()


def test_a_refusal_is_kept_and_replayed(member_api):
    first = member_api.delete(URL, HTTP_IDEMPOTENCY_KEY="d")
    assert first.status_code == 409
    assert first.json()["error"]["code"] == "insufficient_balance"
    again = member_api.delete(URL, HTTP_IDEMPOTENCY_KEY="d")
    assert (again.status_code, again.json()) == (409, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"


def test_invalid_input_is_kept_too(member_api):
    first = post(member_api, {"amount": 0}, key="v")
    assert first.status_code == 400
    assert first.json()["error"]["fields"]["amount"][0]["code"] == "min_value"
    assert post(member_api, {"amount": 0}, key="v").headers["Idempotent-Replayed"] == "true"


def test_a_crash_keeps_nothing_so_a_retry_acts(member_user):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(member_user)
    crashed = post(client, {"amount": 5, "fail": True}, key="c")
    assert crashed.status_code == 500
    assert not LedgerEntry.objects.exists()  # the credit before the crash rolled back
    assert not IdempotencyRecord.objects.exists()
    retried = post(client, {"amount": 5, "fail": True}, key="c")
    assert retried.status_code == 500  # ran again (and crashed again), not replayed


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"redeem": "1/m"})
def test_a_rate_limited_answer_is_not_kept(member_api):
    assert post(member_api, {"amount": 5}, key="a").status_code == 201
    limited = post(member_api, {"amount": 5}, key="b")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["a"]
    assert LedgerEntry.objects.count() == 1


def test_an_expired_answer_frees_the_key(member_api):
    post(member_api, {"amount": 5}, key="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    again = post(member_api, {"amount": 7}, key="old")  # another body: fine, key is free
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert LedgerEntry.objects.count() == 2
    assert IdempotencyRecord.objects.get().fingerprint != ""


@override_settings(REFERRAL_REWARDS_API_IDEMPOTENCY_RETENTION_HOURS=2)
def test_the_purge_deletes_answers_past_the_retention(member_api, now):
    post(member_api, {"amount": 5}, key="a")
    post(member_api, {"amount": 5}, key="b")
    IdempotencyRecord.objects.filter(key="a").update(created_at=now - dt.timedelta(hours=3))
    result = privacy.purge_expired(now=now)
    assert result.idempotency_records == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["b"]


def test_safe_methods_ignore_the_header(member_api):
    answer = member_api.get("/api/rewards/schema/", HTTP_IDEMPOTENCY_KEY="g")
    assert answer.status_code == 200
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_key_act_once():
    user = testing.make_user()
    testing.make_account(testing.make_member(user))

    def work(i):
        client = APIClient()
        client.force_authenticate(user)
        answer = post(client, {"amount": 10}, key="race")
        return answer.status_code, answer.json()

    results, _ = split(run_workers(4, work))
    assert {status for status, _ in results} == {201}
    assert len({str(body) for _, body in results}) == 1  # every worker got the same answer
    assert LedgerEntry.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_staff_read_the_kept_answers_in_the_admin(client, member_api, db):
    from django.urls import reverse

    post(member_api, {"amount": 5}, key="seen-in-admin")
    record = IdempotencyRecord.objects.get()
    client.force_login(testing.make_user("boss", is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:referral_rewards_idempotencyrecord_changelist"))
    assert listing.status_code == 200 and b"seen-in-admin" in listing.content
    page = client.get(reverse("admin:referral_rewards_idempotencyrecord_change", args=[record.pk]))
    assert page.status_code == 200
    assert b"&quot;balance&quot;: 5" in page.content  # the kept body, escaped
    add = client.get(reverse("admin:referral_rewards_idempotencyrecord_add"))
    assert add.status_code == 403  # read-only
