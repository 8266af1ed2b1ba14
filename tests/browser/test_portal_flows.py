"""The member portal in a real browser: Debian's Chromium, driven by Playwright, against
the example project (seeded by ``seed_demo``) served on localhost.

Every flow runs at a phone's width (390 px) and a desktop's (1280 px); every page shown
is screenshotted and checked for layout breakage and errors (``checks.py``). Each test
signs up fresh users (unique names) so the tests do not depend on each other; alice,
tech and the catalog come from the seed.

Budget of referred sign-ups: all of them come from 127.0.0.1, and the fraud checks'
velocity limit (``REFERRAL_REWARDS_FRAUD_VELOCITY``, 5 referred sign-ups per IP address
an hour by default) sends the sixth of a run to review, holding its rewards. The tests
below sign up four customers with a code (two flows, two widths); a new flow that needs
more must find its points or commission another way.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from urllib.parse import urljoin, urlsplit

import cv2
import numpy as np
from playwright.sync_api import expect

from .checks import Visitor

#: From ``example_project/shop/management/commands/seed_demo.py``.
ALICE = ("alice", "alice")
TECH = ("tech", "tech")
VOUCHER_OPTION = "$5 off your next order"  # 500 points, a voucher, approved at once
ITEM_OPTION = "Free diagnostic"  # 500 points, handed over by a technician
OPTION_COST = 500
PAYOUT_MINIMUM = Decimal("10.00")
#: The shop's dearest product ($249: 249 points at 1 point per dollar, and 10% of it,
#: $24.90, as commission for the customer's referrer).
PRODUCT = "espresso"

#: The dashboard's downloads: link text -> content type.
DOWNLOADS = {
    "QR code (PNG)": "image/png",
    "QR code (SVG)": "image/svg+xml",
    "Printable card (PDF)": "application/pdf",
}

#: The portal's pages a member reaches from its navigation (the fulfilment queue is
#: staff only).
MEMBER_PAGES = {
    "/portal/": "Dashboard",
    "/portal/codes/": "My codes",
    "/portal/referrals/": "Referrals",
    "/portal/rewards/": "Rewards",
    "/portal/redemptions/": "Redemptions",
    "/portal/vouchers/": "Vouchers",
    "/portal/earnings/": "Earnings",
    "/portal/leaderboard/": "Leaderboard",
}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def figure(visitor: Visitor, name: str) -> int:
    """A whole-number figure of the page, ``<dd data-stat="name">``."""
    text = visitor.page.locator(f"dd[data-stat={name}]").inner_text().strip()
    assert re.fullmatch(r"\d+", text), f"{name} shows {text!r}, not a whole number"
    return int(text)


def money(text: str) -> Decimal:
    """``"24.90 USD"`` or ``"$24.90"`` -> ``Decimal("24.90")``."""
    found = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    assert found, f"no amount in {text!r}"
    return Decimal(found.group().replace(",", ""))


#: The portal's messages, and the example shop's on its own pages.
MESSAGES = ".rr-messages, .messages"


def success_message(visitor: Visitor) -> str:
    """The portal's success message on the page."""
    message = visitor.page.locator(".rr-messages .rr-message-success")
    expect(message).to_be_visible()
    return message.inner_text().strip()


def sign_up(visitor: Visitor, username: str, *, code: str | None = None) -> None:
    """Fill in the example shop's sign-up form (the visitor is on it) and send it. With
    ``code``: the form must show it already filled in (remembered from a share link)."""
    page = visitor.page
    assert visitor.path == "/signup/", f"not on the sign-up page: {page.url}"
    field = page.get_by_label("Referral code")
    if code is not None:
        expect(field).to_have_value(code)
    page.get_by_label("Username").fill(username)
    page.get_by_label("E-mail").fill(f"{username}@example.com")
    password = f"pw-{username}"
    page.get_by_label(re.compile(r"^Password:?$")).fill(password)
    page.get_by_label("Password confirmation").fill(password)
    visitor.submit(page.get_by_role("button", name="Sign up"), "signed-up")
    assert visitor.path != "/signup/", "the sign-up form was refused:\n" + page.inner_text("main")


def join(browse: object, prefix: str, *, share_path: str | None = None) -> tuple[Visitor, str]:
    """A new visitor who signs up (through ``share_path``, a share link, when given)."""
    visitor = browse()  # type: ignore[operator]
    username = unique(prefix)
    if share_path is None:
        visitor.goto("/signup/", "sign-up")
        sign_up(visitor, username)
    else:
        visitor.goto(share_path, "share-link")
        code = share_path.rstrip("/").rsplit("/", 1)[-1]
        sign_up(visitor, username, code=code)
    return visitor, username


def shop(visitor: Visitor, times: int = 1) -> None:
    """Place ``times`` orders of :data:`PRODUCT` in the example shop."""
    for n in range(times):
        visitor.goto("/shop/", "shop")
        visitor.page.get_by_label("Product").select_option(PRODUCT)
        visitor.submit(visitor.page.get_by_role("button", name="Place order"), f"order-{n + 1}")
        expect(visitor.page.locator(MESSAGES)).to_contain_text("placed")


def share_link(visitor: Visitor) -> tuple[str, str]:
    """(code, share link) shown on the visitor's dashboard."""
    if visitor.path != "/portal/":
        visitor.goto("/portal/", "dashboard")
    code = visitor.page.locator(".rr-code").first.inner_text().strip()
    url = visitor.page.locator("#rr-share-url").input_value()
    assert code, "no code on the dashboard"
    assert url == visitor.url(f"/r/{code}/"), f"share link {url!r} is not this site's /r/{code}/"
    return code, url


def redeem(visitor: Visitor, option: str) -> int:
    """Redeem ``option`` from the rewards page; the redemption's id."""
    page = visitor.page
    visitor.goto("/portal/rewards/", "rewards")
    points = figure(visitor, "points")
    assert points >= OPTION_COST, f"only {points} points to redeem {option!r}"
    row = page.locator("tr.rr-option", has_text=option)
    visitor.submit(row.get_by_role("link", name="Redeem"), "confirm-redemption")
    assert re.fullmatch(r"/portal/rewards/\d+/redeem/", visitor.path), visitor.page.url
    expect(page.locator("main")).to_contain_text(option)
    visitor.submit(page.get_by_role("button", name="Confirm redemption"), "redeemed")
    found = re.fullmatch(r"/portal/redemptions/(\d+)/", visitor.path)
    assert found, f"confirming led to {page.url}"
    success_message(visitor)
    return int(found.group(1))


RECORD_TEXT_JS = """
(element) => {
  window.rrTexts = [];
  new MutationObserver(() => window.rrTexts.push(element.textContent.trim())).observe(
    element, {childList: true, characterData: true, subtree: true}
  );
}
"""


def decode_qr(png: bytes) -> str:
    """The text of the QR code in a PNG screenshot (OpenCV's ArUco-based detector; a
    white border gives it the quiet zone a cropped screenshot may lack)."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the screenshot is not an image"
    image = cv2.copyMakeBorder(image, 32, 32, 32, 32, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    text, _points, _straight = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    return str(text)


# --- the flows ---------------------------------------------------------------------


def test_sign_up_through_a_share_link(browse):
    """A friend follows alice's share link, lands on the sign-up form with her code in
    it and signs up; alice sees one more visit and sign-up, and the new referral."""
    alice = browse()
    alice.log_in(*ALICE)
    code, url = share_link(alice)
    visits, signups = figure(alice, "visits"), figure(alice, "signups")
    alice.goto("/portal/referrals/", "referrals-before")
    listed = alice.page.locator(".rr-table tbody tr").count()

    friend, username = join(browse, "friend", share_path=urlsplit(url).path)
    expect(friend.page.locator(MESSAGES)).to_contain_text("referral code is applied")

    alice.goto("/portal/", "dashboard-after")
    assert figure(alice, "signups") == signups + 1
    assert figure(alice, "visits") == visits + 1
    alice.goto("/portal/referrals/", "referrals-after")
    rows = alice.page.locator(".rr-table tbody tr")
    expect(rows).to_have_count(listed + 1)
    # Newest first; the customer is shown by name, never by e-mail address.
    newest = rows.first
    expect(newest).to_contain_text(username)
    expect(newest).not_to_contain_text("@")
    assert code not in newest.inner_text()


def test_referrer_dashboard(browse):
    """alice's dashboard: her code, share link and figures; the Copy button appears
    with JavaScript (and copies the link); the QR code decodes to the share link."""
    alice = browse()
    alice.page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=alice.site.url
    )
    alice.log_in(*ALICE)
    page = alice.page
    _code, url = share_link(alice)
    for name in ("visits", "signups", "pending", "converted", "earned_points"):
        expect(page.locator(f"dd[data-stat={name}]")).to_be_visible()
        figure(alice, name)

    copy = page.get_by_role("button", name="Copy", exact=True)
    expect(copy).to_be_visible()
    # The button says "Copied" for two seconds; headless Chromium's clipboard may keep
    # the page busy about as long, so the change is recorded rather than polled.
    copy.evaluate(RECORD_TEXT_JS)
    copy.click()
    page.wait_for_function("window.rrTexts.includes('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == url

    qr = page.locator("figure.rr-qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box and box["width"] >= 100, f"the QR code is too small to scan: {box}"
    assert decode_qr(qr.screenshot()) == url

    # The QR code's downloads and the printable card.
    for name, kind in DOWNLOADS.items():
        link = page.get_by_role("link", name=name)
        expect(link).to_be_visible()
        response = page.request.get(urljoin(page.url, link.get_attribute("href") or ""))
        assert response.status == 200, f"{name}: {response.status}"
        assert response.headers["content-type"].startswith(kind), response.headers
        if kind == "image/png":
            assert decode_qr(response.body()) == url

    # Without JavaScript the page is whole but offers no Copy button.
    plain = browse(javascript=False)
    plain.log_in(*ALICE)
    expect(plain.page.locator("#rr-share-url")).to_have_value(url)
    expect(plain.page.locator("button.rr-copy")).to_be_hidden()
    assert decode_qr(plain.page.locator("figure.rr-qr svg").screenshot()) == url


def test_redeem_a_reward(browse):
    """A customer earns points in the shop, redeems a voucher on the rewards page and
    finds it in the redemption history, the points taken."""
    member, _username = join(browse, "redeemer")
    shop(member, times=3)
    member.goto("/portal/rewards/", "rewards-before")
    points = figure(member, "points")

    pk = redeem(member, VOUCHER_OPTION)
    detail = f"/portal/redemptions/{pk}/"
    expect(member.page.locator("main")).to_contain_text(VOUCHER_OPTION)

    member.goto("/portal/redemptions/", "history")
    link = member.page.get_by_role("link", name=VOUCHER_OPTION)
    expect(link).to_have_count(1)
    assert urlsplit(link.get_attribute("href") or "").path == detail
    member.goto("/portal/rewards/", "rewards-after")
    assert figure(member, "points") == points - OPTION_COST


def test_request_a_payout(browse):
    """A referrer whose friend ordered has commission; they ask for the minimum payout
    and see it on the earnings page."""
    referrer, _username = join(browse, "referrer")
    _code, url = share_link(referrer)
    friend, _friend_name = join(browse, "buyer", share_path=urlsplit(url).path)
    shop(friend)

    referrer.goto("/portal/earnings/", "earnings-before")
    page = referrer.page
    available = money(page.locator("dd[data-stat=available]").inner_text())
    assert money(page.locator("dd[data-stat=minimum]").inner_text()) == PAYOUT_MINIMUM
    assert available >= PAYOUT_MINIMUM, f"only {available} available"
    referrer.submit(page.get_by_role("link", name="Request a payout"), "payout-form")
    assert referrer.path == "/portal/payouts/request/"
    page.get_by_label("Amount").fill(str(PAYOUT_MINIMUM))
    page.get_by_label("Method").select_option(label="Bank transfer")
    page.get_by_label("Pay to").fill("DE89 3704 0044 0532 0130 00")
    referrer.submit(page.get_by_role("button", name="Request payout"), "payout-requested")
    found = re.fullmatch(r"/portal/payouts/(\d+)/", referrer.path)
    assert found, "the payout request was refused:\n" + page.inner_text("main")
    assert str(PAYOUT_MINIMUM) in success_message(referrer)

    referrer.goto("/portal/earnings/", "earnings-after")
    row = page.locator(".rr-table tbody tr").filter(
        has=page.locator(f"a[href$='/portal/payouts/{found.group(1)}/']")
    )
    expect(row).to_have_count(1)
    expect(row).to_contain_text(str(PAYOUT_MINIMUM))
    expect(row).to_contain_text("Bank transfer")
    assert money(page.locator("dd[data-stat=available]").inner_text()) == (
        available - PAYOUT_MINIMUM
    )


def test_technician_fulfils_a_redemption(browse):
    """A customer redeems an item; the technician it is assigned to finds it in the
    fulfilment queue and marks it fulfilled; the customer sees it fulfilled."""
    member, _username = join(browse, "diagnostic")
    shop(member, times=3)
    pk = redeem(member, ITEM_OPTION)

    tech = browse()
    tech.log_in(*TECH, then="/portal/fulfilment/")
    page = tech.page
    tech.submit(page.get_by_role("link", name=f"Open #{pk}", exact=True), "fulfilment-detail")
    assert tech.path == f"/portal/fulfilment/{pk}/"
    page.get_by_label("Notes").fill("Checked the grinder's motor: all fine.")
    page.get_by_label("Applied to (type)").fill("shop.repair")
    page.get_by_label("Applied to (id)").fill(f"R-{pk}")
    tech.submit(page.get_by_role("button", name="Mark fulfilled"), "fulfilled")
    assert success_message(tech) == f"Redemption #{pk} marked fulfilled."

    member.goto(f"/portal/redemptions/{pk}/", "redemption-fulfilled")
    expect(member.page.locator("[data-status]")).to_have_text("Fulfilled")


def test_leaderboard_opt_in(browse):
    """A member chooses to be shown on the leaderboard by name; the choice is kept."""
    member, _username = join(browse, "shown")
    member.goto("/portal/leaderboard/", "leaderboard")
    page = member.page
    name = f"Robin {uuid.uuid4().hex[:4]}"
    page.get_by_label("Show me on the leaderboard").check()
    page.get_by_label("Leaderboard name").fill(name)
    member.submit(page.get_by_role("button", name="Save"), "leaderboard-saved")
    assert name in success_message(member)
    expect(page.get_by_label("Show me on the leaderboard")).to_be_checked()
    expect(page.get_by_label("Leaderboard name")).to_have_value(name)


def test_every_portal_page(browse):
    """Every page of the portal's navigation, as alice, lays out at this width; tech
    also sees the fulfilment queue."""
    alice = browse()
    alice.log_in(*ALICE)
    nav = alice.page.locator("nav.rr-nav a")
    shown = {urlsplit(a.get_attribute("href") or "").path: a.inner_text() for a in nav.all()}
    assert shown == MEMBER_PAGES
    for path, label in MEMBER_PAGES.items():
        alice.goto(path, label)
        current = alice.page.locator("nav.rr-nav a[aria-current=page]")
        expect(current).to_have_text(label)

    tech = browse()
    tech.log_in(*TECH, then="/portal/fulfilment/")
    expect(tech.page.locator("nav.rr-nav a[aria-current=page]")).to_have_text("Fulfilment")


FOCUS_JS = """
() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    classes: Array.from(el.classList),
    href: el.getAttribute("href"),
    in_nav: el.closest("nav.rr-nav") !== null,
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    inside: rect.width > 0 && rect.height > 0 && rect.left >= 0 && rect.right <= window.innerWidth
      && rect.top >= 0 && rect.bottom <= window.innerHeight,
  };
}
"""


def test_keyboard(browse):
    """The skip link comes first with Tab and moves focus to the content; the portal's
    navigation is reached with Tab, link by link, in order; focus is always visible."""
    alice = browse()
    alice.log_in(*ALICE)
    page = alice.page
    page.keyboard.press("Tab")
    focused = page.evaluate(FOCUS_JS)
    assert "rr-skip" in focused["classes"], f"Tab reached {focused} first, not the skip link"
    assert focused["inside"], "the focused skip link is not on screen"
    assert focused["outline"], "the focused skip link has no visible focus ring"
    alice.look("skip-link-focused")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "rr-main"

    alice.goto("/portal/", "dashboard")
    links = [
        urlsplit(a.get_attribute("href") or "").path for a in page.locator("nav.rr-nav a").all()
    ]
    assert links, "no navigation"
    reached: list[str] = []
    # The host's own navigation may come first (the example shop's does).
    for _ in range(len(links) + 30):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_JS)
        assert focused["outline"], f"no visible focus ring on {focused}"
        assert focused["inside"], f"the focused {focused} is off screen"
        if focused["in_nav"]:
            reached.append(urlsplit(focused["href"] or "").path)
        elif reached:
            break
    assert reached == links
    alice.look("nav-focused")
