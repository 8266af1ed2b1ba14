"""The staff fulfilment queue: who gets in (technicians see only what is assigned to
them, supervisors everything), the filters, fulfilling with notes and what it was
applied to, taking an unassigned redemption, refused steps as messages (never a 500,
nothing written), query counts, and the assignment e-mail's link."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from django_referral_rewards import testing
from django_referral_rewards.conf import get_member_model
from django_referral_rewards.models import Redemption, RedemptionEvent, RewardOption
from django_referral_rewards.services import redemptions
from django_referral_rewards.views.portal import fulfilment, pages

pytestmark = pytest.mark.django_db

QUEUE = reverse("referral_rewards:fulfilment_queue")

#: This module doubles as a host URLconf that leaves the package's URLs out.
urlpatterns: list[Any] = []


def detail(redemption: Redemption) -> str:
    return reverse("referral_rewards:fulfilment_detail", kwargs={"pk": redemption.pk})


def grant(user: Any, codename: str) -> Any:
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="referral_rewards", codename=codename)
    )
    return type(user).objects.get(pk=user.pk)  # a fresh permission cache


def technician(username: str, **fields: Any) -> Any:
    fields.setdefault("is_staff", True)
    return grant(testing.make_user(username, **fields), "fulfil_redemption")


def supervisor(username: str = "sam") -> Any:
    return grant(testing.make_user(username, is_staff=True), "change_redemption")


def fresh(redemption: Redemption) -> Redemption:
    return Redemption.objects.get(pk=redemption.pk)


def actions(redemption: Redemption) -> list[str]:
    return list(
        RedemptionEvent.objects.filter(redemption=redemption)
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )


def texts(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def option(program) -> RewardOption:
    return RewardOption.objects.create(
        program=program,
        name="Free diagnostic",
        description="A technician checks the device.",
        points_cost=100,
        kind="item",
    )


@pytest.fixture
def customer(program):
    member = testing.make_member(
        testing.make_user("carla"),
        name="Carla Diaz",
        email="carla@example.com",
        phone="+1 555 0101",
    )
    return testing.make_account(member, program=program, points=100_000)


def redeem(account: Any, option: RewardOption, *, to: Any = None, **fields: Any) -> Redemption:
    """An approved redemption of ``option`` (pending with ``requires_approval``),
    assigned to ``to`` when given."""
    if fields:
        RewardOption.objects.filter(pk=option.pk).update(**fields)
        option.refresh_from_db()
    redemption = redemptions.request_redemption(account, option)
    if to is not None:
        redemptions.assign(redemption, to)
    return redemption


@pytest.fixture
def tina():
    return technician("tina", first_name="Tina", last_name="Tech")


@pytest.fixture
def theo():
    return technician("theo")


# --- who gets in -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina)
    for url in (QUEUE, detail(redemption)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/accounts/login/?next={url}")
    response = client.post(detail(redemption), {"action": "fulfil"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert fresh(redemption).status == "approved"


@pytest.mark.parametrize(
    "who",
    [
        "member",  # a signed-in member, not staff
        "staff",  # staff without either permission
        "inactive",  # a technician whose staff status was taken away
    ],
)
def test_users_without_the_permission_get_a_403_page(client, customer, option, tina, who):
    redemption = redeem(customer, option, to=tina)
    if who == "member":
        user = customer.member.user
    elif who == "staff":
        user = testing.make_user("clerk", is_staff=True)
    else:
        user = technician("former", is_staff=False)
    client.force_login(user)
    for url in (QUEUE, detail(redemption)):
        response = client.get(url)
        assert response.status_code == 403
        assert "referral_rewards/portal/fulfilment_forbidden.html" in [
            t.name for t in response.templates
        ]
        assert "This page is for staff who fulfil redemptions." in response.content.decode()
    response = client.post(detail(redemption), {"action": "fulfil", "notes": "Done"})
    assert response.status_code == 403
    assert fresh(redemption).status == "approved"


def test_staff_need_no_member_account_and_none_is_created(client, customer, option, tina):
    redeem(customer, option, to=tina)
    members = get_member_model()._default_manager.count()
    client.force_login(tina)
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert get_member_model()._default_manager.count() == members
    # The portal's layout, with the "Fulfilment" link in its navigation.
    page = response.content.decode()
    assert f'href="{QUEUE}" aria-current="page">Fulfilment</a>' in page
    assert '<p class="rr-brand">Rewards</p>' in page


def test_a_technician_sees_only_the_redemptions_assigned_to_them(
    client, customer, option, tina, theo
):
    mine = [redeem(customer, option, to=tina) for _ in range(2)]
    theirs = redeem(customer, option, to=theo)
    nobodys = redeem(customer, option)
    client.force_login(tina)
    for query in ({}, {"who": "all"}, {"who": "unassigned"}, {"status": "all", "who": "all"}):
        response = client.get(QUEUE, query)
        assert response.status_code == 200
        assert {r.pk for r in response.context["page"]} == {r.pk for r in mine}, query
        assert response.context["who"] == "mine"
        assert response.context["who_filters"] == []
    for other in (theirs, nobodys):
        assert client.get(detail(other)).status_code == 404
        response = client.post(detail(other), {"action": "fulfil", "notes": "x"})
        assert response.status_code == 404
        assert fresh(other).status == "approved"
    missing = Redemption.objects.order_by("-pk").first().pk + 100
    response = client.get(reverse("referral_rewards:fulfilment_detail", kwargs={"pk": missing}))
    assert response.status_code == 404


def test_the_queue_lists_the_columns(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina)
    client.force_login(tina)
    response = client.get(QUEUE)
    page = response.content.decode()
    for text in (
        f'data-label="#">{redemption.pk}</td>',
        ">Free diagnostic</td>",
        ">Carla Diaz</td>",
        ">Approved</span>",
        '"Assigned to">You</td>',
        f'href="{detail(redemption)}"',
    ):
        assert text in page, text


def test_a_supervisor_filters_by_status_and_assignee(client, customer, option, tina):
    sam = supervisor()
    tinas = redeem(customer, option, to=tina)
    sams = redeem(customer, option, to=sam)
    nobodys = redeem(customer, option)
    waiting = redeem(customer, option, requires_approval=True)
    done = redeem(customer, option, to=sam, requires_approval=False)
    redemptions.fulfil(done, by=sam)

    client.force_login(sam)

    def listed(**query: str) -> list[int]:
        response = client.get(QUEUE, query)
        assert response.status_code == 200
        return [r.pk for r in response.context["page"]]

    assert listed() == [sams.pk]  # approved, mine
    assert listed(who="unassigned") == [nobodys.pk]
    assert listed(who="all") == [tinas.pk, sams.pk, nobodys.pk]  # oldest first
    assert listed(status="pending", who="all") == [waiting.pk]
    assert listed(status="fulfilled") == [done.pk]
    assert set(listed(status="all", who="all")) == {
        tinas.pk,
        sams.pk,
        nobodys.pk,
        waiting.pk,
        done.pk,
    }
    # Unknown values fall back to the defaults.
    assert listed(status="nonsense", who="everybody") == [sams.pk]
    response = client.get(QUEUE, {"who": "all"})
    assert [f["value"] for f in response.context["who_filters"]] == ["mine", "unassigned", "all"]
    assert 'href="?status=approved&amp;who=unassigned"' in response.content.decode()


def test_the_queue_is_paginated_and_keeps_the_filters(client, customer, option, tina):
    made = [redeem(customer, option, to=tina) for _ in range(pages.PAGE_SIZE + 2)]
    client.force_login(tina)
    first = client.get(QUEUE)
    assert [r.pk for r in first.context["page"]] == [r.pk for r in made[: pages.PAGE_SIZE]]
    assert 'href="?status=approved&amp;who=mine&amp;page=2"' in first.content.decode()
    second = client.get(QUEUE, {"page": "2"})
    assert [r.pk for r in second.context["page"]] == [r.pk for r in made[pages.PAGE_SIZE :]]
    assert "Page 2 of 2" in second.content.decode()
    # A page out of range shows the last one, nonsense the first.
    assert client.get(QUEUE, {"page": "99"}).context["page"].number == 2
    assert client.get(QUEUE, {"page": "x"}).context["page"].number == 1


@pytest.mark.parametrize("rows", [1, 30])
def test_the_queue_takes_a_fixed_number_of_queries(
    client, program, option, tina, rows, django_assert_max_num_queries
):
    sam = supervisor()
    for n in range(rows):
        member = testing.make_member(name=f"Member {n}")
        account = testing.make_account(member, program=program, points=1000)
        redeem(account, option, to=tina if n % 2 else None)
    client.force_login(sam)
    # session, user, permissions (user and group), count, page of rows
    with django_assert_max_num_queries(6):
        response = client.get(QUEUE, {"who": "all", "status": "all"})
    assert len(response.context["page"]) == min(rows, pages.PAGE_SIZE)
    client.force_login(tina)
    with django_assert_max_num_queries(6):
        response = client.get(QUEUE)
    assert len(response.context["page"]) == rows // 2


# --- the redemption's page -----------------------------------------------------------------


def test_the_page_shows_the_member_the_reward_and_the_history(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina)
    client.force_login(tina)
    response = client.get(detail(redemption))
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        f"Redemption #{redemption.pk}",
        "Free diagnostic",
        "A technician checks the device.",
        "Carla Diaz",
        'href="mailto:carla@example.com"',
        'href="tel:+1 555 0101"',
        '<dd class="rr-figure">100</dd>',
        "Requested",
        "Assigned to Tina Tech.",
        '<label for="rr-fulfil-notes">Notes</label>',
        '<label for="rr-fulfil-applied_to_type">Applied to (type)</label>',
        '<label for="rr-fulfil-applied_to_id">Applied to (id)</label>',
        "Mark fulfilled</button>",
    ):
        assert text in page, text
    assert "Assign to me" not in page  # technicians do not take redemptions
    assert [e.action for e in response.context["history"]] == ["requested", "approved", "assigned"]


def test_the_members_user_address_is_shown_when_the_member_has_none(client, program, option, tina):
    member = testing.make_member(testing.make_user("dora", email="dora@example.com"), email="")
    redemption = redeem(testing.make_account(member, program=program, points=500), option, to=tina)
    client.force_login(tina)
    page = client.get(detail(redemption)).content.decode()
    assert 'href="mailto:dora@example.com"' in page
    assert "None given" in page  # no phone


def test_fulfilling_with_notes_and_what_it_was_applied_to(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina)
    client.force_login(tina)
    response = client.post(
        detail(redemption),
        {
            "action": "fulfil",
            "notes": "Replaced the charging port.",
            "applied_to_type": "repair",
            "applied_to_id": "R-1042",
        },
    )
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert texts(response) == [f"Redemption #{redemption.pk} marked fulfilled."]
    done = fresh(redemption)
    assert done.status == "fulfilled"
    assert done.fulfilled_by == tina and done.fulfilled_at is not None
    assert done.notes == "Replaced the charging port."
    assert (done.applied_to_type, done.applied_to_id) == ("repair", "R-1042")
    event = RedemptionEvent.objects.filter(redemption=redemption).latest("pk")
    assert (event.action, event.actor, event.note) == (
        "fulfilled",
        tina,
        "Replaced the charging port.",
    )
    # Its page now shows what was done, and no form.
    page = client.get(detail(redemption)).content.decode()
    assert "repair #R-1042" in page and "Replaced the charging port." in page
    assert "Mark fulfilled</button>" not in page


def test_fulfilling_without_notes_or_reference(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina)
    client.force_login(tina)
    response = client.post(detail(redemption), {"action": "fulfil"})
    assert response.status_code == 302
    done = fresh(redemption)
    assert (done.status, done.notes, done.applied_to_type, done.applied_to_id) == (
        "fulfilled",
        "",
        "",
        "",
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"applied_to_type": "repair"}, "applied_to_id", "Give the id of what it was applied to."),
        ({"applied_to_id": "42"}, "applied_to_type", "Give the type of what it was applied to."),
        ({"applied_to_type": "r" * 101, "applied_to_id": "1"}, "applied_to_type", "at most 100"),
    ],
)
def test_half_a_reference_is_a_form_error_and_writes_nothing(
    client, customer, option, tina, data, field, message
):
    redemption = redeem(customer, option, to=tina)
    before = actions(redemption)
    client.force_login(tina)
    response = client.post(detail(redemption), {"action": "fulfil", "notes": "Done", **data})
    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    assert message in response.content.decode()
    assert 'value="Done"' not in response.content.decode()  # a textarea keeps it instead
    assert "Done</textarea>" in response.content.decode()
    assert fresh(redemption).status == "approved"
    assert actions(redemption) == before


def test_fulfilling_one_already_fulfilled_is_a_clear_message(client, customer, option, tina):
    sam = supervisor()
    redemption = redeem(customer, option, to=tina)
    client.force_login(tina)
    client.get(detail(redemption))  # tina opens it ...
    redemptions.fulfil(redemption, by=sam, notes="Done at the counter.")  # ... sam is faster
    before = actions(redemption)
    response = client.post(detail(redemption), {"action": "fulfil", "notes": "Done too"})
    assert response.status_code == 409
    page = response.content.decode()
    assert f"Redemption #{redemption.pk} is fulfilled; it cannot be fulfilled." in page
    assert "Done too</textarea>" not in page  # the page shows it as it is now: no form
    assert "Done at the counter." in page
    done = fresh(redemption)
    assert (done.fulfilled_by, done.notes) == (sam, "Done at the counter.")
    assert actions(redemption) == before


def test_fulfilling_one_cancelled_meanwhile_is_a_clear_message(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina)
    redemptions.cancel(redemption, reason="Changed their mind")
    client.force_login(tina)
    response = client.post(detail(redemption), {"action": "fulfil", "notes": "Done"})
    assert response.status_code == 409
    page = response.content.decode()
    assert f"Redemption #{redemption.pk} is cancelled; it cannot be fulfilled." in page
    assert "Changed their mind" in page
    assert fresh(redemption).status == "cancelled"


def test_a_pending_redemption_cannot_be_fulfilled_yet(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina, requires_approval=True)
    client.force_login(tina)
    page = client.get(detail(redemption)).content.decode()
    assert "waits for approval" in page and "Mark fulfilled</button>" not in page
    response = client.post(detail(redemption), {"action": "fulfil"})
    assert response.status_code == 409
    assert "is waiting for approval; it cannot be fulfilled." in response.content.decode()
    assert fresh(redemption).status == "pending"


def test_a_redemption_reassigned_while_the_form_was_open(
    client, customer, option, tina, theo, monkeypatch
):
    """Another user takes it from tina between her loading the page and her step:
    nothing is written, and she is told on the queue (it is no longer hers to see)."""
    redemption = redeem(customer, option, to=tina)
    validate = fulfilment.FulfilForm.is_valid

    def reassigned_meanwhile(form: Any) -> bool:
        redemptions.assign(redemption, theo)
        return validate(form)

    monkeypatch.setattr(fulfilment.FulfilForm, "is_valid", reassigned_meanwhile)
    client.force_login(tina)
    response = client.post(detail(redemption), {"action": "fulfil", "notes": "Done"})
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert texts(response) == [f"Redemption #{redemption.pk} is no longer assigned to you."]
    assert (fresh(redemption).status, fresh(redemption).assigned_to) == ("approved", theo)


def test_an_unknown_action_is_a_400(client, customer, option, tina):
    redemption = redeem(customer, option, to=tina)
    client.force_login(tina)
    for data in ({}, {"action": "delete"}):
        response = client.post(detail(redemption), data)
        assert response.status_code == 400
        assert "Choose what to do with the redemption." in response.content.decode()
    assert fresh(redemption).status == "approved"
    assert client.put(detail(redemption)).status_code == 405
    assert client.post(QUEUE).status_code == 405


# --- supervisors ------------------------------------------------------------------------------


def test_a_supervisor_takes_an_unassigned_redemption(
    client, customer, option, django_capture_on_commit_callbacks
):
    sam = supervisor()
    redemption = redeem(customer, option)
    client.force_login(sam)
    page = client.get(detail(redemption)).content.decode()
    assert "Assign to me</button>" in page
    assert "Mark fulfilled</button>" in page  # supervisors may fulfil any approved one
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(detail(redemption), {"action": "take"})
    assert response.status_code == 302 and response["Location"] == detail(redemption)
    assert texts(response) == [f"Redemption #{redemption.pk} is assigned to you."]
    taken = fresh(redemption)
    assert taken.assigned_to == sam
    assert actions(redemption)[-1] == "assigned"
    assert [message.to for message in mail.outbox] == [[sam.email]]
    assert "Assign to me</button>" not in client.get(detail(redemption)).content.decode()
    assert [r.pk for r in client.get(QUEUE).context["page"]] == [redemption.pk]


def test_taking_one_someone_else_took_meanwhile_is_a_clear_message(client, customer, option, tina):
    sam = supervisor()
    redemption = redeem(customer, option)
    client.force_login(sam)
    client.get(detail(redemption))
    redemptions.assign(redemption, tina)
    before = actions(redemption)
    response = client.post(detail(redemption), {"action": "take"})
    assert response.status_code == 409
    assert (
        f"Redemption #{redemption.pk} is already assigned to Tina Tech."
        in response.content.decode()
    )
    assert fresh(redemption).assigned_to == tina
    assert actions(redemption) == before


def test_taking_a_closed_redemption_is_a_clear_message(client, customer, option):
    sam = supervisor()
    redemption = redeem(customer, option)
    redemptions.cancel(redemption)
    client.force_login(sam)
    response = client.post(detail(redemption), {"action": "take"})
    assert response.status_code == 409
    assert "is cancelled; it cannot be assigned." in response.content.decode()
    assert fresh(redemption).assigned_to is None


def test_a_technician_cannot_take_a_redemption(client, customer, option, tina):
    """A technician's own redemption shows no "Assign to me"; posting it anyway is
    refused with a message."""
    redemption = redeem(customer, option, to=tina)
    client.force_login(tina)
    response = client.post(detail(redemption), {"action": "take"})
    assert response.status_code == 400
    assert "Only supervisors can take a redemption" in response.content.decode()
    assert actions(redemption) == ["requested", "approved", "assigned"]


def test_a_supervisor_fulfils_one_assigned_to_a_technician(client, customer, option, tina):
    sam = supervisor()
    redemption = redeem(customer, option, to=tina)
    client.force_login(sam)
    response = client.post(
        detail(redemption),
        {"action": "fulfil", "notes": "Covered for Tina.", "applied_to_type": "repair"},
    )
    assert response.status_code == 400  # half a reference
    response = client.post(detail(redemption), {"action": "fulfil", "notes": "Covered for Tina."})
    assert response.status_code == 302
    assert fresh(redemption).fulfilled_by == sam


# --- the assignment e-mail ---------------------------------------------------------------------


def test_the_assignment_email_links_to_the_queue_when_the_site_url_is_set(
    customer, option, tina, settings, django_capture_on_commit_callbacks
):
    settings.REFERRAL_REWARDS_SITE_URL = "https://shop.example"
    with django_capture_on_commit_callbacks(execute=True):
        redemption = redeem(customer, option, to=tina)
    (message,) = mail.outbox
    assert f"https://shop.example{detail(redemption)}" in message.body
    assert f"https://shop.example{QUEUE}\n" in message.body


def test_the_assignment_email_has_no_link_without_the_site_url(
    customer, option, tina, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        redemption = redeem(customer, option, to=tina)
    (message,) = mail.outbox
    assert f"Redemption #{redemption.pk} is assigned to you" in message.body
    assert "fulfilment queue" not in message.body and "http" not in message.body


def test_no_link_when_the_host_does_not_include_the_package_urls(customer, option, tina, settings):
    from django_referral_rewards.adapter import Notifier

    redemption = redeem(customer, option, to=tina)
    settings.REFERRAL_REWARDS_SITE_URL = "https://shop.example"
    assert set(Notifier().fulfilment_links(redemption)) == {"queue_url", "redemption_url"}
    settings.ROOT_URLCONF = __name__  # this module: a URLconf without the package's URLs
    assert Notifier().fulfilment_links(redemption) == {}
