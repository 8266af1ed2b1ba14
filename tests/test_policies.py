"""The default reward policy, as a pure function: no database (rules are unsaved)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from django_referral_rewards.models import Campaign, Program, RewardRule
from django_referral_rewards.policies import (
    CommissionTerms,
    DefaultRewardPolicy,
    ProgramTerms,
    RewardContext,
    RewardPolicy,
    commission_terms_errors,
    make_key,
    rule_errors,
)

NOW = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
TERMS = ProgramTerms(currency="USD", decimal_places=2, hold_days=14)


def rule(pk: int, **fields) -> RewardRule:
    defaults = {
        "name": f"rule {pk}",
        "trigger": "signup",
        "beneficiary": "referrer",
        "kind": "points",
        "value": Decimal(100),
    }
    defaults.update(fields)
    made = RewardRule(pk=pk, **defaults)
    return made


def context(rules, **fields) -> RewardContext:
    defaults = {
        "triggers": frozenset({"signup"}),
        "terms": TERMS,
        "rules": rules,
        "occurred_at": NOW,
        "source": "signup",
        "referral_id": 7,
        "referral_status": "pending",
        "campaign_id": None,
        "referrer_id": 1,
        "referee_id": 2,
    }
    defaults.update(fields)
    return RewardContext(**defaults)


def decide(rules, **fields):
    return DefaultRewardPolicy().decide(context(rules, **fields))


def test_two_sided_signup_rewards():
    grants = decide([rule(1), rule(2, beneficiary="referee", value=Decimal(50))])
    assert [(g.account_id, g.kind, g.value) for g in grants] == [
        (1, "points", Decimal(100)),
        (2, "points", Decimal(50)),
    ]
    assert grants[0].release_at == NOW + dt.timedelta(days=14)
    assert grants[0].idempotency_key != grants[1].idempotency_key
    assert grants[0].explanation["trigger"] == "signup"
    assert grants[0].reason == "rule 1"


def test_rules_of_other_triggers_and_inactive_rules_are_ignored():
    rules = [rule(1, trigger="activation"), rule(2, active=False), rule(3)]
    assert [g.rule.pk for g in decide(rules)] == [3]


@pytest.mark.parametrize("status", ["expired", "rejected", "cancelled", "review"])
def test_referrals_not_in_good_standing_earn_nothing(status):
    assert decide([rule(1)], referral_status=status) == []


def test_house_codes_have_no_referrer_to_reward():
    grants = decide([rule(1), rule(2, beneficiary="referee")], referrer_id=None)
    assert [g.account_id for g in grants] == [2]


def test_rule_hold_days_override_the_program():
    (grant,) = decide([rule(1, hold_days=0)])
    assert grant.release_at == NOW


def test_percent_commission_of_the_order_rounds_half_up_to_cents():
    rules = [rule(1, trigger="first_order", kind="commission_percent", value=Decimal(10))]
    (grant,) = decide(
        rules,
        triggers=frozenset({"first_order", "every_order"}),
        order_amount=Decimal("99.95"),
        source="order:A1",
    )
    assert grant.value == Decimal("10.00")  # 9.995 -> 10.00
    assert grant.kind == "commission_percent"
    assert grant.explanation["order_amount"] == "99.95"
    assert "order:A1" in grant.idempotency_key


def test_a_commission_that_rounds_to_nothing_is_skipped():
    rules = [rule(1, trigger="every_order", kind="commission_percent", value=Decimal(1))]
    assert decide(rules, triggers=frozenset({"every_order"}), order_amount=Decimal("0.40")) == []


def test_percent_commission_without_an_order_is_skipped():
    rules = [rule(1, trigger="milestone", nth=1, kind="commission_percent", value=Decimal(5))]
    assert decide(rules, conversion_number=1) == []


@pytest.mark.parametrize(
    ("nth", "repeat", "fires_on"),
    [(1, False, [1]), (5, False, [5]), (2, True, [2, 4, 6]), (3, True, [3, 6])],
)
def test_milestones(nth, repeat, fires_on):
    milestone = rule(1, trigger="milestone", nth=nth, repeat=repeat)
    fired = [n for n in range(1, 7) if decide([milestone], conversion_number=n)]
    assert fired == fires_on


def test_milestones_need_a_conversion():
    assert decide([rule(1, trigger="milestone", nth=1)]) == []


def test_milestone_keys_differ_per_conversion():
    milestone = rule(1, trigger="milestone", nth=1, repeat=True)
    first = decide([milestone], conversion_number=1, referral_id=7)[0]
    second = decide([milestone], conversion_number=2, referral_id=8)[0]
    assert first.idempotency_key != second.idempotency_key
    assert first.explanation["conversion_number"] == 1


def test_campaign_rules_replace_program_rules_of_the_same_trigger():
    program_signup = rule(1, value=Decimal(100))
    program_order = rule(2, trigger="first_order", value=Decimal(10))
    campaign_signup = rule(3, campaign_id=5, value=Decimal(300))
    other_campaign = rule(4, campaign_id=6, value=Decimal(999))
    rules = [program_signup, program_order, campaign_signup, other_campaign]
    triggers = frozenset({"signup", "first_order"})
    chosen = decide(rules, triggers=triggers, campaign_id=5)
    assert sorted(g.rule.pk for g in chosen) == [2, 3]
    by_rule = {g.rule.pk: g for g in chosen}
    assert by_rule[3].explanation["campaign"] == 5
    assert "campaign" not in by_rule[2].explanation
    # Without the campaign: the program's rules only.
    assert sorted(g.rule.pk for g in decide(rules, triggers=triggers)) == [1, 2]


def test_money_values_are_quantized_and_points_are_whole():
    grants = decide(
        [
            rule(1, kind="credit", value=Decimal("5")),
            rule(2, kind="points", value=Decimal("10.6")),
            rule(3, kind="voucher_percent", value=Decimal("15")),
            rule(4, kind="free_period", value=Decimal("0"), voucher_valid_days=60),
        ]
    )
    assert [str(g.value) for g in grants] == ["5.00", "11", "15", "0.00"]
    assert grants[3].voucher_valid_days == 60


def test_defective_rules_are_never_acted_on():
    rules = [
        rule(1, trigger="milestone"),  # no nth
        rule(2, nth=3),  # nth on a non-milestone
        rule(3, kind="voucher_percent", value=Decimal(150)),
        rule(4, kind="commission_percent", value=Decimal(5)),  # on sign-up: no order
        rule(5, value=Decimal(-1)),
    ]
    assert decide(rules) == []


def test_base_policy_must_be_implemented():
    with pytest.raises(NotImplementedError):
        RewardPolicy().decide(context([]))


def test_long_keys_are_hashed_to_fit():
    key = make_key("rule", 1, "order", "x" * 300)
    assert len(key) <= 200
    assert key != make_key("rule", 1, "order", "x" * 299 + "y")
    assert make_key("a", 1) == "a:1"


# --- a referrer's own commission terms ---------------------------------------------------

PERCENT_TERMS = CommissionTerms(kind="commission_percent", value=Decimal(10))
FIXED_TERMS = CommissionTerms(kind="commission_fixed", value=Decimal("25"))
ORDER = {
    "triggers": frozenset({"first_order", "every_order"}),
    "order_amount": Decimal("80.00"),
    "source": "order:A1",
}


def test_percent_terms_pay_on_the_first_order():
    (grant,) = decide([], referrer_commission=PERCENT_TERMS, **ORDER)
    assert (grant.account_id, grant.kind, grant.value, grant.trigger) == (
        1,
        "commission_percent",
        Decimal("8.00"),
        "first_order",
    )
    assert grant.rule is None and grant.source == "terms"
    assert grant.release_at == NOW + dt.timedelta(days=14)  # the program's hold days
    assert grant.idempotency_key == "commission-terms:7:first_order:order:A1"
    assert grant.reason == "Commission for a referred customer's first order"
    assert grant.explanation == {
        "commission_terms": "commission_percent",
        "commission_value": "10",
        "trigger": "first_order",
        "event": "order:A1",
        "beneficiary": "referrer",
        "order_amount": "80.00",
    }


def test_fixed_terms_pay_their_amount_rounded_to_the_currency():
    (grant,) = decide([], referrer_commission=FIXED_TERMS, **ORDER)
    assert (grant.kind, str(grant.value)) == ("commission_fixed", "25.00")
    yen = ProgramTerms(currency="JPY", decimal_places=0, hold_days=0)
    terms = CommissionTerms(kind="commission_fixed", value=Decimal("500"))
    (grant,) = decide([], referrer_commission=terms, terms=yen, **ORDER)
    assert (str(grant.value), grant.release_at) == ("500", NOW)


def test_percent_terms_round_half_up_and_skip_nothing():
    fields = {**ORDER, "order_amount": Decimal("99.95")}
    (grant,) = decide([], referrer_commission=PERCENT_TERMS, **fields)
    assert grant.value == Decimal("10.00")
    tiny = {**ORDER, "order_amount": Decimal("0.04")}
    assert decide([], referrer_commission=PERCENT_TERMS, **tiny) == []


@pytest.mark.parametrize(
    "triggers", [{"every_order"}, {"signup"}, {"activation"}, {"every_order", "activation"}]
)
def test_own_terms_pay_only_on_the_first_order(triggers):
    fields = {**ORDER, "triggers": frozenset(triggers)}
    assert decide([], referrer_commission=PERCENT_TERMS, conversion_number=1, **fields) == []


def test_own_terms_replace_the_programs_referrer_commission_rules_only():
    rules = [
        rule(1, trigger="first_order", kind="commission_percent", value=Decimal(5)),
        rule(2, trigger="every_order", kind="commission_fixed", value=Decimal(3)),
        rule(3, trigger="milestone", nth=1, kind="commission_fixed", value=Decimal(50)),
        rule(4, trigger="first_order", kind="points", value=Decimal(100)),
        rule(5, trigger="first_order", beneficiary="referee", kind="commission_fixed"),
        rule(6, trigger="first_order", kind="voucher_percent", value=Decimal(15)),
    ]
    with_terms = decide(rules, referrer_commission=PERCENT_TERMS, conversion_number=1, **ORDER)
    assert [(g.rule.pk if g.rule else "terms", g.account_id) for g in with_terms] == [
        (4, 1),
        (5, 2),
        (6, 1),
        ("terms", 1),
    ]
    # Without terms, the program's commission rules pay.
    without = decide(rules, conversion_number=1, **ORDER)
    assert sorted(g.rule.pk for g in without) == [1, 2, 3, 4, 5, 6]


def test_own_terms_replace_campaign_commission_rules_too():
    rules = [
        rule(1, trigger="first_order", kind="commission_percent", value=Decimal(5)),
        rule(2, trigger="first_order", kind="commission_fixed", campaign_id=9),
        rule(3, trigger="first_order", kind="points", campaign_id=9),
    ]
    chosen = decide(rules, referrer_commission=FIXED_TERMS, campaign_id=9, **ORDER)
    assert [(g.rule.pk if g.rule else g.source, g.value) for g in chosen] == [
        (3, Decimal(100)),
        ("terms", Decimal("25.00")),
    ]


def test_own_terms_need_a_referrer_in_good_standing():
    assert decide([], referrer_commission=PERCENT_TERMS, referrer_id=None, **ORDER) == []
    for status in ("expired", "rejected", "cancelled", "review"):
        assert decide([], referrer_commission=PERCENT_TERMS, referral_status=status, **ORDER) == []
    (grant,) = decide([], referrer_commission=PERCENT_TERMS, referral_status="converted", **ORDER)
    assert grant.value == Decimal("8.00")


@pytest.mark.parametrize(
    "terms",
    [
        CommissionTerms(kind="commission_percent", value=Decimal(150)),
        CommissionTerms(kind="commission_fixed", value=Decimal(0)),
        CommissionTerms(kind="commission_fixed", value=Decimal(-5)),
        CommissionTerms(kind="points", value=Decimal(100)),
    ],
)
def test_defective_terms_are_never_acted_on(terms):
    grants = decide([], referrer_commission=terms, **ORDER)
    assert [g for g in grants if g.source == "terms"] == []


@pytest.mark.parametrize(
    ("kind", "value", "errors"),
    [
        ("", None, {}),
        ("commission_percent", Decimal(10), {}),
        ("commission_percent", Decimal(100), {}),
        ("commission_fixed", Decimal("12.50"), {}),
        ("", Decimal(10), {"commission_kind": "Choose the kind of commission"}),
        ("commission_percent", None, {"commission_value": "Enter the commission value"}),
        ("points", Decimal(10), {"commission_kind": "Choose a percentage or a fixed"}),
        ("commission_percent", Decimal("100.01"), {"commission_value": "cannot exceed 100"}),
        ("commission_fixed", Decimal(0), {"commission_value": "more than zero"}),
        ("commission_percent", Decimal(-1), {"commission_value": "more than zero"}),
    ],
)
def test_commission_terms_errors(kind, value, errors):
    found = commission_terms_errors(kind, value)
    assert found.keys() == errors.keys()
    for field, message in errors.items():
        assert message in found[field]


# --- rule validation (rule_errors reads the program/campaign, so these use the DB) -----


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"trigger": "milestone"}, "nth", "conversion number"),
        ({"nth": 2}, "nth", "Only milestones"),
        ({"repeat": True}, "repeat", "Only milestones repeat"),
        ({"value": Decimal(0)}, "value", "more than zero"),
        ({"kind": "voucher_percent", "value": Decimal(101)}, "value", "cannot exceed 100"),
        ({"value": Decimal("1.5")}, "value", "whole numbers"),
        ({"kind": "credit", "value": Decimal("1.555")}, "value", "2 decimal places"),
        ({"kind": "commission_percent", "value": Decimal(5)}, "kind", "needs an order"),
    ],
)
def test_rule_errors(program, fields, field, message):
    candidate = RewardRule(
        program=program,
        name="x",
        trigger=fields.pop("trigger", "signup"),
        beneficiary="referrer",
        kind=fields.pop("kind", "points"),
        value=fields.pop("value", Decimal(10)),
        **fields,
    )
    errors = rule_errors(candidate)
    assert message in errors[field]
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        candidate.full_clean()


@pytest.mark.django_db
def test_rule_campaign_must_be_in_the_program(program):
    other = Program.objects.create(slug="other", name="Other")
    campaign = Campaign.objects.create(program=other, name="Spring", slug="spring")
    candidate = RewardRule(
        program=program,
        campaign=campaign,
        name="x",
        trigger="signup",
        beneficiary="referrer",
        kind="points",
        value=Decimal(10),
    )
    assert "another program" in rule_errors(candidate)["campaign"]


@pytest.mark.django_db
def test_valid_rules_have_no_errors(program):
    candidate = RewardRule(
        program=program,
        name="x",
        trigger="milestone",
        nth=5,
        repeat=True,
        beneficiary="referrer",
        kind="free_item",
        value=Decimal(0),
    )
    assert rule_errors(candidate) == {}
    candidate.full_clean()


@pytest.mark.django_db
def test_commission_terms_are_checked_against_the_currency(program):
    assert (
        "2 decimal places"
        in commission_terms_errors("commission_fixed", Decimal("1.555"), program)[
            "commission_value"
        ]
    )
    yen = Program.objects.create(slug="yen", name="Yen", currency="JPY", currency_decimal_places=0)
    assert (
        "JPY amounts have at most 0 decimal places"
        in commission_terms_errors("commission_fixed", Decimal("10.5"), yen)["commission_value"]
    )
    assert commission_terms_errors("commission_fixed", Decimal("10"), yen) == {}
    # A percentage is not an amount of the currency.
    assert commission_terms_errors("commission_percent", Decimal("7.5"), yen) == {}


def test_defective_own_terms_leave_the_programs_commission_rules_in_place():
    """Terms saved around ``clean()`` (150%) pay nothing themselves and replace nothing."""
    commission = rule(1, trigger="first_order", kind="commission_percent", value=Decimal(10))
    defective = CommissionTerms("commission_percent", Decimal(150))
    grants = decide([commission], referrer_commission=defective, **ORDER)
    assert [(g.rule, g.value) for g in grants] == [(commission, Decimal("8.00"))]  # 10% of 80
