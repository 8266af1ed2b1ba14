"""The portal's front page: balances, tier progress, the member's code with its share
links and QR code, and how their referrals went."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from ... import cards, links, qr
from ...services import codes, stats, tiers
from .base import Portal, portal_view, render_portal


@require_safe
@portal_view
def dashboard(request: HttpRequest, portal: Portal) -> HttpResponse:
    account = portal.account
    program = portal.program
    # The member's personal code in this program, created on their first visit.
    code = codes.get_or_create_personal_code(account)
    url = links.share_url(code, request=request)
    invitation = gettext("Join me at %(program)s with my code %(code)s:") % {
        "program": program.name,
        "code": code.code,
    }
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/dashboard.html",
        {
            "code": code,
            "share_url": url,
            "share_links": links.share_links(
                url,
                text=invitation,
                subject=gettext("An invitation to %(program)s") % {"program": program.name},
            ),
            "qr_svg": qr.code_qr(code, request=request),
            "progress": tiers.progress(account),
            "stats": stats.referral_stats(account),
            "credit": program.from_minor(account.credit_balance),
            "commission": program.from_minor(account.commission_balance),
            "cards_available": cards.available(),
        },
    )
