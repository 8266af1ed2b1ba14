"""A host's own member model, used to run the whole suite with the member swapped."""

from django.db import models

from django_referral_rewards.abstract_models import AbstractMember


class CustomMember(AbstractMember):
    loyalty_number = models.CharField(max_length=20, blank=True)

    class Meta(AbstractMember.Meta):
        verbose_name = "custom member"
