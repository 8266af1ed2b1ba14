"""The background tasks (tasks.py): each runs its service and returns its counts as
JSON; on Django 6 (``django.tasks``) they are real tasks, enqueued here on the default
immediate backend."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from django_referral_rewards import tasks, testing
from django_referral_rewards.enums import GrantStatus
from django_referral_rewards.models import Account, RewardGrant, Visit
from django_referral_rewards.services import codes, ledger, rewards

pytestmark = pytest.mark.django_db


def run(job, *args):
    """Run a task as a worker would: enqueued when a tasks framework is installed (its
    default backend runs it at once), else called."""
    if tasks.HAS_TASKS:  # pragma: no cover - Django 6 / the backport
        result = job.enqueue(*args)
        return result.return_value
    return job(*args)


def test_every_task_is_a_task_when_a_framework_is_installed():
    jobs = [
        tasks.release_grants,
        tasks.expire_referrals,
        tasks.resolve_reviews,
        tasks.expire_points,
        tasks.notify_expiring,
        tasks.evaluate_tiers,
        tasks.purge,
        tasks.deliver_webhooks,
    ]
    for job in jobs:
        assert hasattr(job, "enqueue") is tasks.HAS_TASKS, job


def test_release_grants_releases_what_is_due(program):
    account = testing.make_account(program=program)
    grant = rewards.grant_reward(account, kind="points", value=50, reason="x", hold_days=3)
    RewardGrant.objects.filter(pk=grant.pk).update(
        release_at=timezone.now() - dt.timedelta(minutes=1)
    )
    counts = run(tasks.release_grants)
    assert counts["released"] == 1
    assert RewardGrant.objects.get().status == GrantStatus.RELEASED
    assert ledger.balance(account) == 50
    assert run(tasks.release_grants)["released"] == 0  # a rerun does nothing more


def test_expire_points_expires_past_lots(program):
    account = testing.make_account(program=program)
    ledger.credit(account, 70, reason="old", expires_at=timezone.now() - dt.timedelta(days=1))
    counts = run(tasks.expire_points, program.slug)
    assert (counts["lots"], counts["amounts"]) == (1, {"points": 70})
    assert Account.objects.get(pk=account.pk).points_balance == 0


def test_purge_returns_json_with_its_cutoff(program):
    code = codes.get_or_create_personal_code(testing.make_account(program=program).member)
    Visit.objects.create(code=code, created_at=timezone.now() - dt.timedelta(days=400))
    counts = run(tasks.purge)
    assert counts["visits"] == 1
    assert isinstance(counts["cutoff"], str)  # a date as ISO text: JSON for a task result
    json.dumps(counts)


@pytest.mark.parametrize(
    "name", ["expire_referrals", "resolve_reviews", "notify_expiring", "evaluate_tiers"]
)
def test_the_other_sweeps_run_and_report(program, name):
    counts = run(getattr(tasks, name))
    assert isinstance(counts, dict) and counts
    json.dumps(counts)
    assert all(isinstance(value, int | str | None) for value in counts.values())
