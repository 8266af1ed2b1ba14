"""Admin for loyalty tiers, the reward catalog and redemptions; the program and
account admins' loyalty fields. Every redemption change goes through the service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from django_referral_rewards import testing
from django_referral_rewards.models import (
    Account,
    LedgerEntry,
    Program,
    Redemption,
    RedemptionEvent,
    RewardOption,
    Tier,
)
from django_referral_rewards.services import ledger, redemptions

pytestmark = pytest.mark.django_db

REDEMPTION_ADD = "admin:referral_rewards_redemption_add"


def changelist(model) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:referral_rewards_{obj._meta.model_name}_change", args=[obj.pk])


def add(model) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_add")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def option(program, name="Free oil change", cost=100, **fields) -> RewardOption:
    fields.setdefault("kind", "item")
    return RewardOption.objects.create(program=program, name=name, points_cost=cost, **fields)


def act(client, action, objects, follow=True, **data):
    """Post an admin action on the redemption changelist (``apply`` posts its form)."""
    return client.post(
        changelist(Redemption),
        {"action": action, "_selected_action": [obj.pk for obj in objects], **data},
        follow=follow,
    )


def fresh(redemption) -> Redemption:
    return Redemption.objects.get(pk=redemption.pk)


@pytest.fixture
def member_account(program):
    member = testing.make_member(name="Ann Archer", email="ann@example.com")
    return testing.make_account(member, program=program, points=1000)


@pytest.fixture
def oil(program) -> RewardOption:
    """An item staff fulfil, always approved by hand."""
    return option(program, "Free oil change", 100, requires_approval=True, stock=5)


@pytest.fixture
def pending(member_account, oil) -> Redemption:
    return redemptions.request_redemption(member_account, oil)


@pytest.fixture
def tiers(program) -> dict[str, Tier]:
    return {
        "bronze": Tier.objects.create(program=program, name="Bronze", rank=0),
        "gold": Tier.objects.create(
            program=program, name="Gold", rank=1, threshold=Decimal(500), multiplier=Decimal(2)
        ),
    }


@pytest.fixture
def fitters(django_user_model):
    """Two active staff users in the program's fulfilment group, and one inactive."""
    group = Group.objects.create(name="Fitters")
    users = []
    for name in ("fitter-a", "fitter-b", "fitter-gone"):
        user = django_user_model.objects.create_user(
            name, email=f"{name}@example.com", is_staff=True, is_active=name != "fitter-gone"
        )
        user.groups.add(group)
        users.append(user)
    Program.objects.filter(pk=Program.objects.get_default().pk).update(fulfilment_group="Fitters")
    return users


@pytest.fixture
def staff(client, django_user_model):
    def login(*codenames):
        user = django_user_model.objects.create_user(
            f"staff{len(codenames)}", password="pw", is_staff=True
        )
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return login


# --- pages render ------------------------------------------------------------------


def test_every_loyalty_page_renders_with_data(admin_client, program, member_account, tiers, oil):
    Account.objects.filter(pk=member_account.pk).update(tier=tiers["gold"])
    voucher_option = option(
        program, "Five off", 50, kind="voucher", voucher_kind="fixed", value=Decimal(5)
    )
    waiting = redemptions.request_redemption(member_account, oil)
    given = redemptions.request_redemption(member_account, voucher_option)
    assert given.status == "fulfilled" and given.voucher is not None
    pages = {
        changelist(Tier): ["Bronze", "Gold", "500.00 USD", "2.000"],
        change(tiers["gold"]): ["Gold", 'name="threshold"', 'name="multiplier"'],
        add(Tier): ['name="rank"'],
        changelist(RewardOption): ["Free oil change", "Five off", "5.00 USD"],
        change(oil): ["Free oil change", 'name="stock"', "redemptions of this reward"],
        add(RewardOption): ['name="voucher_kind"', 'name="program"'],
        changelist(Redemption): ["Free oil change", "Ann Archer", "Waiting for approval"],
        change(waiting): ["Free oil change", "Requested", "-100 points", "History"],
        change(given): [given.voucher.display_code, "Fulfilled"],
        reverse(REDEMPTION_ADD): ["Redeem points for a member", 'name="option"'],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for text in expected:
            assert text in page, (url, text)


def test_program_admin_shows_the_loyalty_and_catalog_settings(admin_client, program):
    response = admin_client.get(change(program))
    assert response.status_code == 200
    page = response.content.decode()
    for field in (
        "expiry_notice_days",
        "tier_grace_days",
        "redemption_approval_threshold",
        "minimum_balance_after_redemption",
        "fulfilment_group",
    ):
        assert f'name="{field}"' in page, field
    assert "Loyalty tiers" in page and "Reward catalog" in page
    assert "tiers of this program" in page and "rewards of this program" in page
    # Every editable field is in some section (nothing silently dropped).
    form_fields = set(response.context["adminform"].form.fields)
    editable = {f.name for f in Program._meta.fields if f.editable and not f.primary_key}
    assert editable - {"created", "modified"} <= form_fields


def test_program_fulfilment_group_must_exist(admin_client, program):
    data = {
        "name": program.name,
        "slug": program.slug,
        "currency": "USD",
        "currency_decimal_places": "2",
        "attribution_window_days": "30",
        "conversion_event": program.conversion_event,
        "minimum_order_amount": "0",
        "points_per_unit": "1",
        "points_rounding": program.points_rounding,
        "hold_days": "0",
        "tier_grace_days": "30",
        "minimum_balance_after_redemption": "0",
        "redemption_approval_threshold": "500",
        "fulfilment_group": "Fitterz",
        "payout_minimum": "0",
        "fraud_review_score": "50",
        "fraud_block_score": "100",
        "review_days": "7",
        "review_default_outcome": "approve",
        "metadata": "{}",
        "active": "on",
    }
    response = admin_client.post(change(program), data)
    assert response.status_code == 200
    assert "fulfilment_group" in response.context["adminform"].form.errors
    Group.objects.create(name="Fitters")
    response = admin_client.post(change(program), {**data, "fulfilment_group": "Fitters"})
    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.fulfilment_group, program.tier_grace_days) == ("Fitters", 30)
    assert program.redemption_approval_threshold == 500


def test_account_admin_shows_tier_read_only_and_filters_by_it(
    admin_client, program, member_account, tiers
):
    other = testing.make_account(testing.make_member(name="Bob Baker"), program=program)
    Account.objects.filter(pk=member_account.pk).update(
        tier=tiers["gold"], qualifying_spend=Decimal("612.50")
    )
    page = admin_client.get(change(member_account)).content.decode()
    assert "612.50" in page and "Gold" in page and "In tier since" in page
    assert 'name="tier"' not in page and 'name="qualifying_spend"' not in page
    assert "redeem points" in page
    listing = admin_client.get(changelist(Account), {"tier": tiers["gold"].pk})
    assert list(listing.context["cl"].result_list) == [member_account]
    assert f"{program}: Gold" in listing.content.decode()  # the filter names the program
    no_tier = admin_client.get(changelist(Account), {"tier": "none"})
    assert list(no_tier.context["cl"].result_list) == [other]
    # The tier cannot be set through the form.
    admin_client.post(change(other), {"tier": tiers["gold"].pk, "metadata": "{}"})
    other.refresh_from_db()
    assert other.tier is None


# --- tiers -------------------------------------------------------------------------


def test_tier_admin_counts_members_and_shows_thresholds_in_their_unit(admin_client, program, tiers):
    points_tier = Tier.objects.create(
        program=program, name="Star", rank=2, basis="points", threshold=Decimal(2000)
    )
    for _ in range(2):
        account = testing.make_account(program=program)
        Account.objects.filter(pk=account.pk).update(tier=tiers["gold"])
    response = admin_client.get(changelist(Tier))
    rows = {tier.name: tier for tier in response.context["cl"].result_list}
    assert (rows["Gold"].member_count, rows["Bronze"].member_count) == (2, 0)
    page = response.content.decode()
    assert "2000 points" in page and "500.00 USD" in page
    assert f"?tier={tiers['gold'].pk}" in page  # the count links to the accounts
    by_program = admin_client.get(changelist(Tier), {"basis__exact": "points"})
    assert list(by_program.context["cl"].result_list) == [points_tier]
    found = admin_client.get(changelist(Tier), {"q": "gol"})
    assert list(found.context["cl"].result_list) == [tiers["gold"]]


def test_tier_admin_validation_errors_are_form_errors(admin_client, program, tiers):
    data = {
        "program": program.pk,
        "name": "Silver",
        "rank": "1",  # Gold has it
        "basis": "spend",
        "window": "lifetime",
        "threshold": "250",
        "multiplier": "1.5",
        "active": "on",
    }
    response = admin_client.post(add(Tier), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    response = admin_client.post(add(Tier), {**data, "rank": "3", "multiplier": "1000"})
    assert "multiplier" in response.context["adminform"].form.errors
    response = admin_client.post(add(Tier), {**data, "rank": "3", "name": "Gold"})
    assert response.status_code == 200  # the name is taken in this program
    assert Tier.objects.count() == 2
    assert admin_client.post(add(Tier), {**data, "rank": "3"}).status_code == 302
    assert Tier.objects.get(name="Silver").multiplier == Decimal("1.5")
    # Editing: the program stays (members are in the tier), the rest changes.
    gold = tiers["gold"]
    other = testing.make_program()
    response = admin_client.post(
        change(gold), {**data, "program": other.pk, "name": "Gold", "threshold": "800"}
    )
    assert response.status_code == 302
    gold.refresh_from_db()
    assert (gold.program, gold.threshold, gold.rank) == (program, Decimal(800), 1)


# --- the reward catalog ------------------------------------------------------------


def option_data(program, **overrides):
    data = {
        "program": program.pk,
        "name": "Ten off",
        "description": "",
        "position": "0",
        "active": "on",
        "points_cost": "300",
        "kind": "voucher",
        "voucher_kind": "fixed",
        "value": "10",
        "voucher_valid_days": "",
        "minimum_tier": "",
        "per_member_limit": "",
        "stock": "",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
    }
    data.update(overrides)
    return data


def test_option_model_validation_shows_as_form_errors(admin_client, program, tiers):
    elsewhere = Tier.objects.create(program=testing.make_program(), name="Gold", rank=1)
    cases = [
        ({"voucher_kind": ""}, "voucher_kind"),  # a voucher option needs its kind
        ({"kind": "item"}, "voucher_kind"),  # an item has none
        ({"voucher_kind": "percent", "value": "150"}, "value"),
        ({"minimum_tier": elsewhere.pk}, "minimum_tier"),  # another program's tier
        ({"points_cost": "0"}, "points_cost"),
        ({"starts_at_0": "2030-01-02", "ends_at_0": "2030-01-01"}, "ends_at"),
    ]
    for overrides, field in cases:
        response = admin_client.post(add(RewardOption), option_data(program, **overrides))
        assert response.status_code == 200, overrides
        assert field in response.context["adminform"].form.errors, overrides
    assert not RewardOption.objects.exists()
    response = admin_client.post(
        add(RewardOption), option_data(program, minimum_tier=tiers["gold"].pk)
    )
    assert response.status_code == 302
    created = RewardOption.objects.get()
    assert (created.minimum_tier, created.voucher_kind) == (tiers["gold"], "fixed")


def test_option_program_is_fixed_and_tiers_limited_to_it(admin_client, program, tiers, oil):
    other = testing.make_program()
    Tier.objects.create(program=other, name="Gold", rank=1)
    adding = admin_client.get(add(RewardOption)).context["adminform"].form
    labels = [label for _, label in adding.fields["minimum_tier"].choices]
    assert f"{program}: Gold" in labels and f"{other}: Gold" in labels
    editing = admin_client.get(change(oil)).context["adminform"].form
    assert "program" not in editing.fields
    assert set(editing.fields["minimum_tier"].queryset) == set(tiers.values())


def test_option_filters_and_search(admin_client, program, oil):
    sold_out = option(program, "Car wash", 40, stock=0)
    hidden = option(program, "Old mug", 10, active=False)
    available = admin_client.get(changelist(RewardOption), {"available": "yes"})
    assert list(available.context["cl"].result_list) == [oil]
    unavailable = admin_client.get(changelist(RewardOption), {"available": "no"})
    assert set(unavailable.context["cl"].result_list) == {sold_out, hidden}
    found = admin_client.get(changelist(RewardOption), {"q": "wash"})
    assert list(found.context["cl"].result_list) == [sold_out]
    page = admin_client.get(changelist(RewardOption)).content.decode()
    assert page.count('alt="True"') >= 2  # oil needs approval and is available


def test_option_save_keeps_stock_taken_by_redemptions_meanwhile(
    admin_client, program, oil, member_account
):
    form = admin_client.get(change(oil)).context["adminform"].form
    seen = form["stock_seen"].value()
    assert seen == "5"
    redemptions.request_redemption(member_account, oil)  # takes one while staff edit
    data = option_data(
        program,
        name="Oil change",
        kind="item",
        voucher_kind="",
        value="0",
        points_cost="100",
        stock="5",
        stock_seen=seen,
        requires_approval="on",
    )
    del data["program"]
    response = admin_client.post(change(oil), data)
    assert response.status_code == 302
    oil.refresh_from_db()
    assert (oil.name, oil.stock) == ("Oil change", 4)  # renamed; stock not written back
    # Changing the stock from a stale page is refused with the current figure ...
    redemptions.request_redemption(member_account, oil)
    response = admin_client.post(change(oil), {**data, "stock": "20", "stock_seen": "4"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["stock"]
    assert "3 now" in errors[0]
    assert response.context["adminform"].form["stock_seen"].value() == "3"
    oil.refresh_from_db()
    assert oil.stock == 3
    # ... and accepted from a fresh one.
    response = admin_client.post(change(oil), {**data, "stock": "20", "stock_seen": "3"})
    assert response.status_code == 302
    oil.refresh_from_db()
    assert oil.stock == 20


# --- redemptions: read-only, search, filters --------------------------------------


def test_redemptions_are_read_only_and_never_deleted(admin_client, pending):
    page = admin_client.get(change(pending)).content.decode()
    assert 'name="notes"' not in page and 'name="status"' not in page
    admin_client.post(change(pending), {"status": "fulfilled", "notes": "x"})
    assert fresh(pending).status == "pending"
    delete = reverse("admin:referral_rewards_redemption_delete", args=[pending.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    listing = admin_client.get(changelist(Redemption)).content.decode()
    assert "delete_selected" not in listing
    for action in ("approve", "reject", "cancel", "assign", "fulfil"):
        assert f'value="{action}"' in listing, action


def test_redemption_change_page_links_the_ledger_and_history(admin_client, pending, oil):
    redemptions.reject(pending, reason="Not in stock after all")
    page = admin_client.get(change(pending)).content.decode()
    spend, refund = pending.spend_entry, fresh(pending).refund_entry
    assert refund is not None
    assert change(spend) in page and change(refund) in page
    assert "-100 points" in page and "+100 points" in page
    assert "Not in stock after all" in page  # the reason, in the history too
    events = RedemptionEvent.objects.filter(redemption=pending)
    assert list(events.values_list("action", flat=True)) == ["requested", "rejected"]
    assert page.count("Rejected") >= 2


def test_redemption_search_and_filters(admin_client, program, member_account, oil, fitters):
    other_member = testing.make_member(name="Carl Cole", email="carl@example.org")
    other = testing.make_account(other_member, program=program, points=500)
    wash = option(program, "Car wash", 40, requires_approval=True)
    ann_oil = redemptions.request_redemption(member_account, oil)
    carl_wash = redemptions.request_redemption(other, wash)
    redemptions.assign(carl_wash, fitters[0])
    shop = testing.make_program()
    shop_account = testing.make_account(other_member, program=shop, points=500)
    shop_item = option(shop, "Shop mug", 10)
    shop_mug = redemptions.request_redemption(shop_account, shop_item)
    assert shop_mug.status == "approved"

    def results(**params):
        response = admin_client.get(changelist(Redemption), params)
        assert response.status_code == 200, params
        return set(response.context["cl"].result_list)

    assert results(q="Ann Arch") == {ann_oil}
    assert results(q="carl@example.org") == {carl_wash, shop_mug}
    assert results(q="wash") == {carl_wash}
    assert results(status__exact="approved") == {shop_mug}
    assert results(program__id__exact=shop.pk) == {shop_mug}
    assert results(option__id__exact=oil.pk) == {ann_oil}
    assert results(assigned_to__id__exact=fitters[0].pk) == {carl_wash}
    assert results(queue="unassigned") == {ann_oil, shop_mug}
    redemptions.fulfil(shop_mug, by=fitters[0])
    assert results(queue="open") == {ann_oil, carl_wash}


def test_queue_filter_mine(client, django_user_model, pending):
    fitter = django_user_model.objects.create_superuser("fitter", "f@example.com", "pw")
    client.force_login(fitter)
    assert (
        list(client.get(changelist(Redemption), {"queue": "mine"}).context["cl"].result_list) == []
    )
    redemptions.assign(pending, fitter)
    response = client.get(changelist(Redemption), {"queue": "mine"})
    assert list(response.context["cl"].result_list) == [pending]


# --- actions -----------------------------------------------------------------------


def test_approve_reports_each_redemption(admin_client, admin_user, member_account, pending):
    credit = option(
        member_account.program,
        "Store credit",
        200,
        kind="credit",
        value=Decimal("2.50"),
        requires_approval=True,
    )
    waiting_credit = redemptions.request_redemption(member_account, credit)
    done = redemptions.request_redemption(
        member_account, option(member_account.program, "Sticker", 10)
    )
    assert done.status == "approved"
    response = act(admin_client, "approve", [pending, waiting_credit, done])
    messages = messages_of(response)
    assert "Approved 2 redemptions." in messages
    assert any(m.startswith(f"#{done.pk} ") and "approved" in m for m in messages)
    assert (fresh(pending).status, fresh(pending).processed_by) == ("approved", admin_user)
    assert fresh(waiting_credit).status == "fulfilled"  # credit is given on approval
    assert ledger.balance(member_account, unit="credit") == 250
    assert fresh(done).processed_by is None  # the failure changed nothing
    assert LogEntry.objects.filter(object_id=str(pending.pk)).exists()
    # No fulfilment group: the approved item has nobody to fulfil it, and staff are told.
    assert fresh(pending).assigned_to is None
    assert any(
        m.startswith("Nobody was assigned to fulfil") and f"#{pending.pk} " in m for m in messages
    )


def test_approving_an_item_assigns_it_when_there_is_a_group(admin_client, pending, fitters):
    messages = messages_of(act(admin_client, "approve", [pending]))
    assert fresh(pending).assigned_to == fitters[0]
    assert not any(m.startswith("Nobody was assigned") for m in messages)


def test_reject_asks_for_a_reason_and_refunds(admin_client, admin_user, member_account, pending):
    form = act(admin_client, "reject", [pending], follow=False)
    assert form.status_code == 200
    page = form.content.decode()
    assert "Reject redemptions" in page and 'name="reason"' in page
    assert f"#{pending.pk} Free oil change" in page
    response = act(admin_client, "reject", [pending], follow=False, apply="1", reason="  ")
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert fresh(pending).status == "pending"
    assert ledger.balance(member_account) == 900

    response = act(admin_client, "reject", [pending], apply="1", reason="Workshop closed")
    assert "Rejected 1 redemption." in messages_of(response)
    rejected = fresh(pending)
    assert (rejected.status, rejected.reason, rejected.processed_by) == (
        "rejected",
        "Workshop closed",
        admin_user,
    )
    assert ledger.balance(member_account) == 1000
    assert RewardOption.objects.get(pk=pending.option_id).stock == 5
    event = RedemptionEvent.objects.get(redemption=pending, action="rejected")
    assert (event.actor, event.note) == (admin_user, "Workshop closed")


def test_reject_a_fulfilled_redemption_shows_the_error_and_changes_nothing(
    admin_client, admin_user, member_account, pending
):
    redemptions.approve(pending, by=admin_user)
    redemptions.fulfil(pending, by=admin_user, notes="Done")
    before = LedgerEntry.objects.count()
    response = act(admin_client, "reject", [pending], apply="1", reason="Oops")
    assert response.status_code == 200
    messages = messages_of(response)
    assert len(messages) == 1 and messages[0].startswith(f"#{pending.pk} ")
    assert not any("Rejected" in m for m in messages)
    after = fresh(pending)
    assert (after.status, after.reason, after.notes) == ("fulfilled", "", "Done")
    assert LedgerEntry.objects.count() == before
    assert ledger.balance(member_account) == 900


def test_cancel_with_a_reason(admin_client, admin_user, member_account, pending):
    redemptions.approve(pending, by=admin_user)
    response = act(admin_client, "cancel", [pending], follow=False, apply="1", reason="")
    assert "reason" in response.context["form"].errors
    response = act(admin_client, "cancel", [pending], apply="1", reason="Customer moved away")
    assert "Cancelled 1 redemption." in messages_of(response)
    cancelled = fresh(pending)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "Customer moved away")
    assert ledger.balance(member_account) == 1000
    # Again: refused, reported.
    response = act(admin_client, "cancel", [pending], apply="1", reason="Again")
    assert any(m.startswith(f"#{pending.pk} ") for m in messages_of(response))
    assert ledger.balance(member_account) == 1000


def test_assign_to_a_chosen_staff_user(
    admin_client, admin_user, pending, fitters, mailoutbox, django_capture_on_commit_callbacks
):
    form = act(admin_client, "assign", [pending], follow=False)
    assert form.status_code == 200
    field = form.context["form"].fields["user"]
    users = set(field.queryset)
    assert fitters[0] in users and fitters[2] not in users  # active staff only
    assert "Choose automatically" in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "assign", [pending], apply="1", user=fitters[1].pk)
    assert "Assigned 1 redemption." in messages_of(response)
    assigned = fresh(pending)
    assert assigned.assigned_to == fitters[1]
    event = RedemptionEvent.objects.get(redemption=pending, action="assigned")
    assert event.actor == admin_user
    assert [m.to for m in mailoutbox] == [[fitters[1].email]]
    # The form now shows the load of each user.
    form = act(admin_client, "assign", [pending], follow=False)
    labels = dict(form.context["form"].fields["user"].choices)
    assert any(str(label) == "fitter-b (1 open redemption)" for label in labels.values())


def test_assign_automatically_picks_the_least_loaded(
    admin_client, program, member_account, oil, fitters
):
    busy = redemptions.request_redemption(member_account, oil)
    redemptions.assign(busy, fitters[0])
    waiting = redemptions.request_redemption(member_account, oil)
    response = act(admin_client, "assign", [waiting], apply="1", user="")
    messages = messages_of(response)
    assert "Assigned 1 redemption." in messages
    assert any("assigned to fitter-b" in m for m in messages)
    assert fresh(waiting).assigned_to == fitters[1]


def test_assign_automatically_with_nobody_to_choose_is_reported(admin_client, pending):
    response = act(admin_client, "assign", [pending], apply="1", user="")
    messages = messages_of(response)
    assert len(messages) == 1 and "Nobody could be chosen" in messages[0]
    assert fresh(pending).assigned_to is None


def test_fulfil_records_notes_and_what_it_was_applied_to(admin_client, admin_user, pending):
    redemptions.approve(pending, by=admin_user)
    form = act(admin_client, "fulfil", [pending], follow=False)
    assert form.status_code == 200
    assert 'name="applied_to_type"' in form.content.decode()
    response = act(
        admin_client, "fulfil", [pending], follow=False, apply="1", applied_to_type="repair"
    )
    assert "applied_to_id" in response.context["form"].errors
    assert fresh(pending).status == "approved"
    response = act(
        admin_client,
        "fulfil",
        [pending],
        apply="1",
        notes="Changed the oil and filter",
        applied_to_type="repair",
        applied_to_id="R-1042",
    )
    assert "Fulfilled the redemption." in messages_of(response)
    done = fresh(pending)
    assert (done.status, done.notes, done.applied_to, done.fulfilled_by) == (
        "fulfilled",
        "Changed the oil and filter",
        "repair #R-1042",
        admin_user,
    )
    assert "repair #R-1042" in admin_client.get(changelist(Redemption)).content.decode()
    # Fulfilling again is refused and reported.
    response = act(admin_client, "fulfil", [pending], apply="1", notes="again")
    assert any(m.startswith(f"#{pending.pk} ") for m in messages_of(response))
    assert fresh(pending).notes == "Changed the oil and filter"


def test_fulfil_takes_one_redemption_at_a_time(admin_client, admin_user, member_account, oil):
    first = redemptions.request_redemption(member_account, oil)
    second = redemptions.request_redemption(member_account, oil)
    for redemption in (first, second):
        redemptions.approve(redemption, by=admin_user)
    response = act(admin_client, "fulfil", [first, second], apply="1", notes="both")
    assert any("one redemption at a time" in m for m in messages_of(response))
    assert {fresh(first).status, fresh(second).status} == {"approved"}


def test_change_page_offers_the_steps_that_apply(admin_client, admin_user, pending):
    def steps():
        response = admin_client.get(change(pending))
        return [name for name, _ in response.context["workflow_steps"]]

    assert steps() == ["approve", "reject", "assign", "cancel"]
    page = admin_client.get(change(pending)).content.decode()
    assert f'action="{changelist(Redemption)}"' in page and 'value="reject"' in page
    redemptions.approve(pending, by=admin_user)
    assert steps() == ["fulfil", "assign", "cancel"]
    redemptions.fulfil(pending, by=admin_user)
    assert steps() == []
    # A step button posts the action for this one redemption: its intermediate page.
    redemption = redemptions.request_redemption(pending.account, pending.option)
    form = act(admin_client, "reject", [redemption], follow=False)
    assert form.context["items"] == [(redemption.pk, f"#{redemption.pk} {redemption}")]


# --- redeeming for a member --------------------------------------------------------


def test_staff_redeem_points_for_a_member(admin_client, admin_user, member_account, oil):
    url = reverse(REDEMPTION_ADD)
    page = admin_client.get(url + f"?account={member_account.pk}")
    assert page.context["form"]["account"].value() == str(member_account.pk)
    data = {"account": member_account.pk, "option": oil.pk, "token": "t-1"}
    response = admin_client.post(url, data, follow=True)
    redemption = Redemption.objects.get()
    assert response.redirect_chain[-1][0] == change(redemption)
    assert any("Redeemed 100 points" in m for m in messages_of(response))
    assert (redemption.status, redemption.points) == ("pending", 100)
    event = RedemptionEvent.objects.get(redemption=redemption, action="requested")
    assert event.actor == admin_user
    assert ledger.balance(member_account) == 900
    admin_client.post(url, data)  # the same form again: once
    assert Redemption.objects.count() == 1
    assert ledger.balance(member_account) == 900


def test_staff_redeem_errors_are_form_errors_and_write_nothing(
    admin_client, program, member_account, oil
):
    url = reverse(REDEMPTION_ADD)
    pricey = option(program, "Weekend trip", 5000)
    elsewhere = option(testing.make_program(), "Shop mug", 10)
    cases = [
        ({"option": pricey.pk}, "costs 5000"),
        ({"option": elsewhere.pk}, "another program"),
        ({"account": ""}, "required"),
    ]
    for overrides, text in cases:
        data = {"account": member_account.pk, "option": oil.pk, "token": "t", **overrides}
        response = admin_client.post(url, data)
        assert response.status_code == 200, overrides
        assert text in str(response.context["form"].errors), (overrides, text)
    assert not Redemption.objects.exists()
    assert ledger.balance(member_account) == 1000


# --- permissions -------------------------------------------------------------------


def test_viewers_cannot_run_actions_or_redeem(staff, member_account, pending):
    client = staff("view_redemption", "view_account")
    listing = client.get(changelist(Redemption))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert 'value="approve"' not in page and "Redeem points for a member" not in page
    assert client.get(change(pending)).context["workflow_steps"] == []
    act(client, "approve", [pending])
    act(client, "reject", [pending], apply="1", reason="no")
    assert fresh(pending).status == "pending"
    assert client.get(reverse(REDEMPTION_ADD)).status_code == 403
    data = {"account": member_account.pk, "option": pending.option_id, "token": "x"}
    assert client.post(reverse(REDEMPTION_ADD), data).status_code == 403
    assert Redemption.objects.count() == 1


def test_change_permission_allows_the_actions(staff, pending):
    client = staff("view_redemption", "change_redemption")
    response = act(client, "approve", [pending])
    assert "Approved 1 redemption." in messages_of(response)
    assert fresh(pending).status == "approved"
    # The change form itself stays read-only.
    assert 'name="notes"' not in client.get(change(pending)).content.decode()


def test_add_permission_allows_redeeming_for_a_member(staff, member_account, oil):
    client = staff("add_redemption")
    data = {"account": member_account.pk, "option": oil.pk, "token": "t-9"}
    response = client.post(reverse(REDEMPTION_ADD), data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")  # cannot view them
    assert Redemption.objects.get().points == 100


# --- queries -----------------------------------------------------------------------


def test_changelist_query_counts_do_not_grow_with_rows(
    admin_client, admin_user, program, tiers, fitters, django_assert_max_num_queries
):
    options = [
        option(program, f"Reward {n}", 10, requires_approval=True, minimum_tier=tiers["bronze"])
        for n in range(12)
    ]
    for n in range(20):
        account = testing.make_account(program=program, points=100)
        Account.objects.filter(pk=account.pk).update(tier=tiers["gold"])
        redemption = redemptions.request_redemption(account, options[n % 12])
        redemptions.assign(redemption, fitters[n % 2])
        if n % 3 == 0:
            redemptions.approve(redemption, by=admin_user)
            redemptions.fulfil(redemption, by=admin_user, applied_to=("repair", n))
    for model, rows in ((Redemption, 20), (RewardOption, 12), (Tier, 2), (Account, 20)):
        with django_assert_max_num_queries(10):
            response = admin_client.get(changelist(model))
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == rows, model
