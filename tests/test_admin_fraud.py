"""Admin for fraud review: the review queue, approving and rejecting referrals in
review (through the fraud service, with permissions and per-object errors), the
signals and decisions on the referral's page, referrals with the same evidence, and
the read-only fraud records (signals, decisions, traces)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_referral_rewards import testing
from django_referral_rewards.enums import FraudAction, FraudStatus, GrantStatus, ReferralStatus
from django_referral_rewards.models import (
    FraudDecision,
    FraudSignal,
    Referral,
    RewardGrant,
    Trace,
)

from .fraud_review import janes_code, sign_up

pytestmark = pytest.mark.django_db

rf = RequestFactory()
QUEUE = {"fraud_status__exact": "review"}


# --- helpers ----------------------------------------------------------------------------


def changelist(model) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:referral_rewards_{obj._meta.model_name}_change", args=[obj.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def act(client, action, objects, follow=True, **data):
    return client.post(
        changelist(Referral),
        {"action": action, "_selected_action": [obj.pk for obj in objects], **data},
        follow=follow,
    )


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def code(program):
    return janes_code(program)


@pytest.fixture
def in_review(code) -> Referral:
    referral = sign_up(code, "bob", ip="203.0.113.7")
    assert (referral.fraud_status, referral.fraud_score) == (FraudStatus.REVIEW, 90)
    return referral


@pytest.fixture
def clear(code) -> Referral:
    referral = sign_up(code, "carl", disposable=False)
    assert referral.fraud_status == FraudStatus.CLEAR
    return referral


@pytest.fixture
def staff(client, django_user_model):
    def login(*codenames):
        user = django_user_model.objects.create_user(
            "staff-" + "-".join(codenames), password="pw", is_staff=True
        )
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        client.user = user
        return client

    return login


# --- the list and the review queue ------------------------------------------------------


def test_review_queue_lists_referrals_in_review_nearest_deadline_first(
    admin_client, code, clear, now
):
    soon = sign_up(code, "dora")
    late = sign_up(code, "emil")  # signed up later, decided later: not the default order
    Referral.objects.filter(pk=late.pk).update(review_deadline=now + dt.timedelta(days=6))
    Referral.objects.filter(pk=soon.pk).update(review_deadline=now + dt.timedelta(days=1))

    everything = admin_client.get(changelist(Referral))
    page = everything.content.decode()
    assert "Review queue (2)" in page
    assert "?fraud_status__exact=review" in page
    assert set(everything.context["cl"].result_list) == {late, soon, clear}

    queue = admin_client.get(changelist(Referral), QUEUE)
    assert list(queue.context["cl"].result_list) == [soon, late]
    page = queue.content.decode()
    assert "In review" in page and "All referrals" in page
    # A column the user sorts by still wins over the deadline order.
    by_date = admin_client.get(changelist(Referral), {**QUEUE, "o": "-9"})  # signed up
    assert list(by_date.context["cl"].result_list) == [late, soon]
    assert list(everything.context["cl"].result_list)[:2] == [late, soon]


def test_fraud_status_filter_and_columns(admin_client, in_review, clear):
    cleared = admin_client.get(changelist(Referral), {"fraud_status__exact": "clear"})
    assert list(cleared.context["cl"].result_list) == [clear]
    page = admin_client.get(changelist(Referral)).content.decode()
    for text in ("Fraud status", "Fraud score", "Review deadline", "Approved after review"):
        assert text in page, text
    assert ">90<" in page  # Bob's score


def test_referral_changelist_query_count_is_constant(admin_client, code, in_review):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(changelist(Referral))
        assert response.status_code == 200
        return len(queries)

    few = count()
    for n in range(6):
        sign_up(code, f"extra{n}")
    assert Referral.objects.count() == 7
    assert count() == few
    for model in (FraudSignal, FraudDecision, Trace):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(changelist(model)).status_code == 200
        baseline = len(queries)
        sign_up(code, f"more-{model._meta.model_name}")
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(changelist(model)).status_code == 200
        assert len(queries) == baseline, model


def test_referral_changelist_query_count_is_bounded(
    admin_client, code, in_review, django_assert_max_num_queries
):
    for n in range(5):
        sign_up(code, f"extra{n}")
    # Session and user, counts, the page of rows, the sidebar filters.
    with django_assert_max_num_queries(14):
        admin_client.get(changelist(Referral), QUEUE)


# --- approve and reject after review ----------------------------------------------------


def test_approve_after_review(admin_client, admin_user, in_review):
    held = RewardGrant.objects.get(referral=in_review)
    assert held.status == GrantStatus.HELD
    response = act(admin_client, "approve_review", [in_review])
    assert "Approved 1 referral after review." in messages_of(response)
    referral = fresh(in_review)
    assert (referral.fraud_status, referral.review_deadline) == (FraudStatus.APPROVED, None)
    decision = FraudDecision.objects.filter(referral=in_review).latest("pk")
    assert (decision.action, decision.decided_by, decision.automatic) == (
        FraudAction.APPROVED,
        admin_user,
        False,
    )
    assert {s["name"] for s in decision.signals} == {"same_ip", "disposable_email"}
    assert fresh(held).status == GrantStatus.RELEASED  # its hold had passed
    log = LogEntry.objects.get(object_id=str(in_review.pk))
    assert (log.user, log.get_change_message()) == (admin_user, "Approved after review.")


def test_approving_a_referral_not_in_review_is_reported_not_raised(admin_client, in_review, clear):
    response = act(admin_client, "approve_review", [clear, in_review])
    assert response.status_code == 200
    found = messages_of(response)
    assert "Approved 1 referral after review." in found
    assert any(f"#{clear.pk}" in m and "not in review" in m for m in found)
    assert fresh(clear).fraud_status == FraudStatus.CLEAR
    assert not FraudDecision.objects.filter(referral=clear).exists()
    # Approving it twice: the second is refused the same way.
    again = act(admin_client, "approve_review", [in_review])
    assert any("not in review (Approved after review)" in m for m in messages_of(again))
    assert FraudDecision.objects.filter(referral=in_review, action="approved").count() == 1


def test_reject_after_review_asks_for_a_reason(admin_client, admin_user, in_review):
    form = act(admin_client, "reject_review", [in_review], follow=False)
    assert form.status_code == 200
    page = form.content.decode()
    assert "Reject referrals after review" in page and 'name="reason"' in page
    assert f"#{in_review.pk}" in page

    missing = act(admin_client, "reject_review", [in_review], follow=False, apply="1", reason="")
    assert "reason" in missing.context["form"].errors
    assert fresh(in_review).fraud_status == FraudStatus.REVIEW

    done = act(admin_client, "reject_review", [in_review], apply="1", reason="Same household")
    assert "Rejected 1 referral after review." in messages_of(done)
    referral = fresh(in_review)
    assert (referral.fraud_status, referral.status) == (
        FraudStatus.REJECTED,
        ReferralStatus.REJECTED,
    )
    decision = FraudDecision.objects.filter(referral=in_review).latest("pk")
    assert (decision.action, decision.decided_by, decision.note) == (
        FraudAction.REJECTED,
        admin_user,
        "Same household",
    )
    grant = RewardGrant.objects.get(referral=in_review)
    assert (grant.status, grant.revoked_by) == (GrantStatus.VOIDED, admin_user)
    again = act(admin_client, "reject_review", [in_review], apply="1", reason="Twice")
    assert any("not in review" in m for m in messages_of(again))


def test_plain_reject_closes_the_review_of_a_referral_in_review(admin_client, in_review, clear):
    response = act(admin_client, "reject", [in_review, clear], apply="1", reason="Fake")
    assert "Rejected 2 referrals." in messages_of(response)
    assert fresh(in_review).fraud_status == FraudStatus.REJECTED  # out of the queue
    assert FraudDecision.objects.filter(referral=in_review, action="rejected").exists()
    assert (fresh(clear).status, fresh(clear).fraud_status) == ("rejected", "clear")


def test_deciding_reviews_needs_the_change_permission(staff, in_review):
    viewer = staff("view_referral")
    page = viewer.get(changelist(Referral)).content.decode()
    assert 'value="approve_review"' not in page and 'value="reject_review"' not in page
    assert "Approve after review" not in viewer.get(change(in_review)).content.decode()
    response = act(viewer, "approve_review", [in_review])
    assert response.status_code == 200
    assert fresh(in_review).fraud_status == FraudStatus.REVIEW

    reviewer = staff("view_referral", "change_referral")
    page = reviewer.get(changelist(Referral)).content.decode()
    assert 'value="approve_review"' in page and 'value="reject_review"' in page
    act(reviewer, "approve_review", [in_review])
    decision = FraudDecision.objects.filter(referral=in_review).latest("pk")
    assert (decision.action, decision.decided_by) == ("approved", reviewer.user)


def _admin_request(user, data=None):
    request = rf.post("/admin/", data or {})
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_a_reviewer_who_is_not_staff_is_refused_with_a_message(in_review):
    model_admin = admin.site._registry[Referral]
    outsider = testing.make_user("outsider", is_superuser=True)  # not staff
    request = _admin_request(outsider)
    model_admin.approve_review(request, Referral.objects.filter(pk=in_review.pk))
    texts = [str(m) for m in request._messages]
    assert any("Only an active staff user" in m for m in texts), texts

    request = _admin_request(outsider, {"apply": "1", "reason": "Looks fake"})
    assert model_admin.reject_review(request, Referral.objects.filter(pk=in_review.pk)) is None
    texts = [str(m) for m in request._messages]
    assert any("Only an active staff user" in m for m in texts), texts
    assert fresh(in_review).fraud_status == FraudStatus.REVIEW
    assert not FraudDecision.objects.filter(referral=in_review, automatic=False).exists()


# --- the referral's page ----------------------------------------------------------------


def test_referral_page_shows_signals_decisions_and_the_review_buttons(
    admin_client, admin_user, code, in_review, clear
):
    twin = sign_up(code, "bobby", ip="203.0.113.7")  # the same network as Bob
    evidence = FraudSignal.objects.get(referral=in_review, name="same_ip").evidence
    assert evidence

    page = admin_client.get(change(in_review)).content.decode()
    for text in (
        "Fraud signals",
        "same_ip",
        "disposable_email",
        "The customer signed up from an IP address the referrer uses.",
        "Fraud decisions",
        "Sent to review",
        "same_ip (40): The customer signed up from an IP address",
        f"?evidence={evidence}",
        "same_ip: ",
        "1 other referral",
        'value="approve_review"',
        'value="reject_review"',
        "?ip_hash=",
        "In review",
    ):
        assert text in page, text
    assert 'value="reject"' not in page  # a referral in review is decided, not rejected

    same = admin_client.get(changelist(Referral), {"evidence": evidence})
    assert same.status_code == 200
    assert set(same.context["cl"].result_list) == {in_review, twin}
    assert "fraud evidence" in same.content.decode()
    assert set(
        admin_client.get(changelist(Referral), {"ip_hash": in_review.ip_hash})
        .context["cl"]
        .result_list
    ) == {in_review, twin}

    # Decided: the page shows who decided, and no more review buttons.
    act(admin_client, "approve_review", [in_review])
    page = admin_client.get(change(in_review)).content.decode()
    assert "Approved after review" in page and admin_user.username in page
    assert 'value="approve_review"' not in page

    clear_page = admin_client.get(change(clear)).content.decode()
    assert 'value="reject"' in clear_page and 'value="approve_review"' not in clear_page
    rejected = act(admin_client, "reject", [clear], apply="1", reason="x")
    assert rejected.status_code == 200
    assert 'value="reject"' not in admin_client.get(change(clear)).content.decode()


def test_existing_referral_pages_still_render(admin_client, in_review):
    page = admin_client.get(change(in_review)).content.decode()
    for text in ("Expires at", "Referred revenue", "Referral bonus", "Conversion"):
        assert text in page, text
    assert 'name="ip_hash"' not in page and 'name="device_hash"' not in page


# --- read-only fraud records ------------------------------------------------------------


def test_fraud_record_pages_render(admin_client, in_review):
    signal = FraudSignal.objects.get(referral=in_review, name="same_ip")
    decision = FraudDecision.objects.get(referral=in_review)
    trace = Trace.objects.filter(kind="ip").first()
    pages = {
        changelist(FraudSignal): ["same_ip", f"#{in_review.pk} ", signal.evidence[:10]],
        change(signal): ["same_ip", "The customer signed up from an IP address"],
        changelist(FraudDecision): ["Sent to review", f"#{in_review.pk} "],
        change(decision): ["disposable_email (50): The customer", "Sent to review"],
        changelist(Trace): ["IP address", trace.value_hash[:10]],
        change(trace): ["IP address", f"?value_hash={trace.value_hash}"],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for text in expected:
            assert text in page, (url, text)


def test_signal_snapshots_are_shown_as_lines():
    from django_referral_rewards.admin.fraud import signals_summary

    assert signals_summary([]) == "—"
    assert signals_summary("not a list") == "—"
    assert signals_summary([{"name": "<b>x</b>", "score": 5, "reason": "r"}, "junk"]) == (
        "&lt;b&gt;x&lt;/b&gt; (5): r"
    )


@pytest.mark.parametrize("model", [FraudSignal, FraudDecision, Trace])
def test_fraud_records_cannot_be_added_changed_or_deleted(
    admin_client, admin_user, in_review, model
):
    obj = model.objects.first()
    assert obj is not None
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = admin_user  # a superuser: still no
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert model_admin.has_view_permission(request, obj)
    name = model._meta.model_name
    assert admin_client.get(reverse(f"admin:referral_rewards_{name}_add")).status_code == 403
    delete = reverse(f"admin:referral_rewards_{name}_delete", args=[obj.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    before = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}
    admin_client.post(change(obj), {"score": 0, "note": "edited", "kind": "device"})
    after = fresh(obj)
    assert {f.attname: getattr(after, f.attname) for f in model._meta.concrete_fields} == before
    page = admin_client.get(changelist(model)).content.decode()
    assert "delete_selected" not in page and 'name="_selected_action"' not in page
    assert model.objects.filter(pk=obj.pk).exists()


def test_fraud_records_search_and_filters(admin_client, code, in_review, clear):
    other = sign_up(code, "frank")

    def results(model, **params):
        response = admin_client.get(changelist(model), params)
        assert response.status_code == 200, params
        return set(response.context["cl"].result_list)

    bob_signals = set(FraudSignal.objects.filter(referral=in_review))
    assert results(FraudSignal, q=str(in_review.pk)) == bob_signals
    assert results(FraudSignal, name="same_ip") == set(FraudSignal.objects.filter(name="same_ip"))
    same_ip = FraudSignal.objects.get(referral=in_review, name="same_ip")
    assert results(FraudSignal, q=same_ip.evidence) == {same_ip}
    assert results(FraudSignal, evidence=same_ip.evidence) == {same_ip}
    assert results(FraudDecision, q=str(other.pk)) == set(
        FraudDecision.objects.filter(referral=other)
    )
    assert results(FraudDecision, action__exact="flagged") == set(FraudDecision.objects.all())
    assert results(FraudDecision, automatic__exact="0") == set()
    assert results(FraudSignal, q="not-a-number") == set()
    ip_traces = set(Trace.objects.filter(kind="ip", value_hash=in_review.ip_hash))
    assert len(ip_traces) == 2  # Jane and Bob: seen on the same network
    assert results(Trace, value_hash=in_review.ip_hash) == ip_traces
    assert results(Trace, q=in_review.ip_hash) == ip_traces
    assert results(Trace, q="bob") == set(Trace.objects.filter(member__name="bob"))


def test_review_queue_counts_only_referrals_in_review(admin_client, in_review):
    assert "Review queue (1)" in admin_client.get(changelist(Referral)).content.decode()
    Referral.objects.filter(pk=in_review.pk).update(
        fraud_status=FraudStatus.APPROVED, review_deadline=None
    )
    page = admin_client.get(changelist(Referral)).content.decode()
    assert "Review queue (0)" in page
    assert not admin_client.get(changelist(Referral), QUEUE).context["cl"].result_list
