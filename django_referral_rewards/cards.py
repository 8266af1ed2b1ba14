"""Printable referral cards (PDF): one card for a code, or sheets of handout cards.

A card shows the program's name, whose invitation it is (the member's name; a house
campaign code shows its campaign's name), the code in large monospaced letters, the QR
code of its share link (see :mod:`.qr` and :mod:`.links`) and a line saying how to use
it. Two sizes: A6 (105 by 148 mm, portrait) and business card (85 by 55 mm). Text that is
too long for the card is set smaller, wrapped and at last cut short with an ellipsis:
nothing ever runs off the card.

:func:`card_sheet` creates fresh campaign codes for handing out in a shop and lays their
cards out on A4 or US Letter pages, as many as fit, with crop marks for the guillotine.

The PDFs are drawn with `fpdf2 <https://py-pdf.github.io/fpdf2/>`_, the ``pdf`` extra
(``pip install "django-referral-rewards[pdf]"``). Its built-in Helvetica covers Western
European text; set ``REFERRAL_REWARDS_CARD_FONT`` to a TrueType font for other scripts
(without it, other letters are transliterated where that is safe, ``Ł`` as ``L``, else
printed as ``?``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import math
import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import get_language, gettext

from . import qr
from .conf import app_settings
from .exceptions import CodeNotFound, ConfigurationError, InvalidArgument
from .links import absolute_url, share_url
from .models import Campaign, Program, ReferralCode

#: Card sizes, ``(width, height)`` in millimetres.
CARD_SIZES: dict[str, tuple[float, float]] = {"a6": (105.0, 148.0), "business": (85.0, 55.0)}
#: Paper sizes of :func:`card_sheet`, ``(width, height)`` in millimetres, portrait.
PAPER_SIZES: dict[str, tuple[float, float]] = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
#: The most codes one :func:`card_sheet` call creates.
MAX_SHEET_CODES = 500
#: Distance from the paper's edge to the first card of a sheet: room for the crop marks
#: and for the unprintable margin of office printers.
SHEET_MARGIN = 10.0
#: Crop marks start this far from the cards and are at most :data:`MARK_LENGTH` long.
MARK_OFFSET = 1.0
MARK_LENGTH = 5.0
#: The part of the sheet margin nearest the paper's edge that printers may not reach.
UNPRINTABLE = 5.0
#: Pixels per QR module of the image embedded in a card (about 250 dpi on a business
#: card, more on A6).
QR_PNG_SCALE = 10

_PT = 25.4 / 72  # millimetres per point
_LINE_HEIGHT = 1.2  # times the font size
_TEXT_FAMILY = "helvetica"
_UNICODE_FAMILY = "rrcardfont"
_CODE_FAMILY = "courier"
_ELLIPSIS = "…"
#: Letters Unicode decomposition leaves alone, spelled with the closest Latin letters.
_TRANSLITERATION = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ħ": "H",
        "ħ": "h",
        "\u0131": "i",  # dotless i
        "Ŀ": "L",
        "ŀ": "l",
        "Ŧ": "T",
        "ŧ": "t",
        "Ŋ": "N",
        "ŋ": "n",
        "ĸ": "k",
        "Ə": "E",
        "ə": "e",
        "ẞ": "SS",
        "Ɖ": "D",
        "ɖ": "d",
    }
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def available() -> bool:
    """Whether cards can be drawn here: the ``pdf`` extra (fpdf2) is installed."""
    return importlib.util.find_spec("fpdf") is not None


def _fpdf_class() -> Any:
    try:
        from fpdf import FPDF
    except ImportError as exc:
        raise ConfigurationError(
            gettext(
                "Printable cards need the fpdf2 library: "
                'pip install "django-referral-rewards[pdf]".'
            )
        ) from exc
    return FPDF


# --- text ---------------------------------------------------------------------------------


def _fallback_text(text: str, supported: Callable[[str], bool]) -> str:
    """``text`` with every character the font cannot draw transliterated (``Ł`` as
    ``L``, ``ﬁ`` as ``fi``, ``é`` stays) or, where there is no safe spelling, replaced
    by ``?`` (one for each run of such characters)."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", _CONTROL.sub(" ", text)):
        if supported(char):
            out.append(char)
            continue
        spelled = char.translate(_TRANSLITERATION)
        if spelled == char:
            decomposed = unicodedata.normalize("NFKD", char)
            spelled = "".join(c for c in decomposed if not unicodedata.combining(c))
        if spelled and all(supported(c) for c in spelled):
            out.append(spelled)
        elif not out or out[-1] != "?":
            out.append("?")
    return "".join(out)


def _core_supported(char: str) -> bool:
    try:
        char.encode("windows-1252")
    except UnicodeEncodeError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float


@dataclasses.dataclass(frozen=True)
class _Text:
    """A text to set as large as fits: from ``largest`` down to ``smallest`` points,
    at most ``height`` mm tall (0: whatever room is left)."""

    text: str
    family: str
    style: str
    largest: float
    smallest: float
    height: float
    align: str = "C"
    by_character: bool = False
    link: str = ""


@dataclasses.dataclass(frozen=True)
class _Image:
    """A square PNG image ``height`` mm wide and tall."""

    png: bytes
    height: float
    link: str
    alt: str


class _Writer:
    """An FPDF document with the card's fonts: the text font (Helvetica, or the
    ``CARD_FONT``) and Courier for codes."""

    def __init__(self, *, page: tuple[float, float]) -> None:
        font_path = app_settings.CARD_FONT  # a bad setting fails before any work
        # fpdf2 takes the portrait size and turns it for landscape.
        orientation = "L" if page[0] > page[1] else "P"
        portrait = (min(page), max(page))
        self.pdf = _fpdf_class()(orientation=orientation, unit="mm", format=portrait)
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(0, 0, 0)
        self.pdf.c_margin = 0
        self.pdf.core_fonts_encoding = "windows-1252"
        self.pdf.set_creator("django-referral-rewards")
        self.pdf.set_lang(get_language() or "en")
        self.text_family = _TEXT_FAMILY
        self._fitted: dict[tuple[Any, ...], tuple[float, list[str]]] = {}
        self._supported: Callable[[str], bool] = _core_supported
        if font_path:
            try:
                self.pdf.add_font(_UNICODE_FAMILY, "", font_path)
                self.pdf.add_font(_UNICODE_FAMILY, "B", font_path)
            except Exception as exc:  # fpdf2 and fontTools raise many kinds
                raise ConfigurationError(
                    gettext("REFERRAL_REWARDS_CARD_FONT is not a usable TrueType font: %(e)s")
                    % {"e": exc}
                ) from exc
            cmap = self.pdf.fonts[_UNICODE_FAMILY].cmap
            self.text_family = _UNICODE_FAMILY
            self._supported = lambda char: ord(char) in cmap

    def clean(self, text: str) -> str:
        """``text`` as the text font can draw it."""
        return _fallback_text(text, self._supported)

    def text_height(self, block: _Text, width: float, height: float) -> float:
        """The height (mm) ``block`` takes in a box of ``width`` by at most ``height``."""
        size, lines = self._layout(block, width, height)
        return len(lines) * _line_height(size)

    def draw_text(self, block: _Text, box: _Box) -> float:
        """Write ``block`` in ``box`` from its top; returns the height used (mm)."""
        size, lines = self._layout(block, box.w, box.h)
        self.pdf.set_font(block.family, block.style, size)
        y = box.y
        for line in lines:
            self.pdf.set_xy(box.x, y)
            self.pdf.cell(box.w, _line_height(size), line, align=block.align, link=block.link)
            y += _line_height(size)
        return y - box.y

    def _layout(self, block: _Text, width: float, height: float) -> tuple[float, list[str]]:
        if not block.text or width <= 0 or height <= 0:
            return block.smallest, []
        key = (block, width, height)
        if key not in self._fitted:
            self._fitted[key] = self._fit(block, width, height)
        return self._fitted[key]

    def _lines(self, block: _Text, width: float, size: float) -> list[str]:
        self.pdf.set_font(block.family, block.style, size)
        lines: list[str] = self.pdf.multi_cell(
            width,
            _line_height(size),
            block.text,
            dry_run=True,
            output="LINES",
            wrapmode="CHAR" if block.by_character else "WORD",
        )
        return lines

    def _fit(self, block: _Text, width: float, height: float) -> tuple[float, list[str]]:
        """The largest size (in half points, from ``block.largest`` down to
        ``block.smallest``) at which the text fits ``width`` by ``height``, and its
        lines. Sizes that keep every word whole are preferred (a link is not broken in
        the middle while a smaller size would keep it on one line). At the smallest
        size the lines that fit, the last one ending with an ellipsis."""
        text = block.text
        steps = int((block.largest - block.smallest) * 2)
        if " " not in text and "\n" not in text:
            # One word (a code): the size at which it fills the width, in one step.
            self.pdf.set_font(block.family, block.style, block.largest)
            natural = self.pdf.get_string_width(text)
            fitting = block.largest * width / natural if natural else block.largest
            step = min(steps, int((fitting - block.smallest) * 2))
            size = block.smallest + step / 2
            if step >= 0 and _line_height(size) <= height + 1e-6:
                return size, [text]
        words = text.split()
        for whole_words in (True, False):
            low, high = 0, steps  # bisection: the largest step that fits
            best: tuple[float, list[str]] | None = None
            while low <= high:
                middle = (low + high) // 2
                size = block.smallest + middle / 2
                lines = self._lines(block, width, size)
                fits = len(lines) * _line_height(size) <= height + 1e-6
                if fits and (not whole_words or " ".join(lines).split() == words):
                    best = (size, lines)
                    low = middle + 1
                else:
                    high = middle - 1
            if best is not None:
                return best
        lines = self._lines(block, width, block.smallest)
        lines = lines[: int((height + 1e-6) // _line_height(block.smallest))]
        if lines:
            last = lines[-1].rstrip()
            while last and self.pdf.get_string_width(last + _ELLIPSIS) > width:
                last = last[:-1].rstrip()
            lines[-1] = last + _ELLIPSIS
        return block.smallest, lines

    def draw_stack(
        self, blocks: list[_Text | _Image], box: _Box, *, gap: float, flexible: int = -1
    ) -> None:
        """Draw ``blocks`` one under the other, ``gap`` apart, the whole stack centred
        vertically in ``box``. Each text block takes at most its ``height``; the
        ``flexible`` one (by index) whatever room the others leave."""
        blocks = [b for b in blocks if not isinstance(b, _Text) or b.text]
        flexible %= len(blocks)
        heights = [
            0.0 if i == flexible else self._measure(block, box.w, block.height)
            for i, block in enumerate(blocks)
        ]
        room = box.h - sum(heights) - gap * (len(blocks) - 1)
        heights[flexible] = self._measure(blocks[flexible], box.w, room)
        top = box.y + max(0.0, (box.h - sum(heights) - gap * (len(blocks) - 1)) / 2)
        for i, block in enumerate(blocks):
            limit = room if i == flexible else block.height
            if isinstance(block, _Image):
                self.draw_image(block, box.x + (box.w - block.height) / 2, top)
            else:
                self.draw_text(block, _Box(box.x, top, box.w, limit))
            top += heights[i] + gap

    def _measure(self, block: _Text | _Image, width: float, height: float) -> float:
        if isinstance(block, _Image):
            return block.height
        return self.text_height(block, width, height)

    def draw_image(self, block: _Image, x: float, y: float) -> None:
        self.pdf.image(
            io.BytesIO(block.png),
            x=x,
            y=y,
            w=block.height,
            h=block.height,
            link=block.link,
            alt_text=block.alt,
        )

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _line_height(size: float) -> float:
    return size * _PT * _LINE_HEIGHT


# --- one card -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CardContent:
    """What one card says: ``program`` name, ``subtitle`` (whose invitation, or the
    campaign; may be empty), the ``code`` and its absolute share ``url``."""

    program: str
    subtitle: str
    code: str
    url: str


def card_content(code: ReferralCode, *, request: HttpRequest | None = None) -> CardContent:
    """The :class:`CardContent` of ``code``: the member's name (never their e-mail
    address) for a member's code, the campaign's name for a house campaign code."""
    subtitle = ""
    owner = code.owner
    name = (getattr(owner.member, "name", "") or "").strip() if owner is not None else ""
    if name:
        subtitle = gettext("An invitation from %(name)s") % {"name": name}
    elif code.campaign is not None:
        subtitle = code.campaign.name
    return CardContent(
        program=code.program.name,
        subtitle=subtitle,
        code=code.code,
        url=share_url(code, request=request),
    )


def _draw_card(writer: _Writer, content: CardContent, *, size: str, x: float, y: float) -> None:
    """Draw one card with its top left corner at ``(x, y)``."""
    width, height = CARD_SIZES[size]
    family = writer.text_family
    business = size == "business"
    instructions = gettext(
        "Scan the QR code or visit %(url)s and enter %(code)s when you sign up."
    ) % {"url": content.url, "code": content.code}
    image = _Image(
        png=qr.qr_png(content.url, scale=QR_PNG_SCALE),
        height=36.0 if business else 58.0,
        link=content.url,
        alt=gettext("QR code of %(url)s") % {"url": content.url},
    )
    # (largest, smallest) font sizes and the most height (mm) of each text, per size.
    program = _Text(
        writer.clean(content.program), family, "B", *((11, 6, 9) if business else (18, 9, 16))
    )
    subtitle = _Text(
        writer.clean(content.subtitle), family, "", *((8, 5, 6) if business else (11, 7, 10))
    )
    code = _Text(
        content.code,
        _CODE_FAMILY,
        "B",
        *((16, 6, 9) if business else (26, 9, 13)),
        by_character=True,
    )
    how = _Text(
        writer.clean(instructions),
        family,
        "",
        *((7, 4, 0) if business else (9, 5, 0)),
        align="L" if business else "C",
        link=content.url,
    )
    if not business:
        margin = 8.0
        box = _Box(x + margin, y + margin, width - 2 * margin, height - 2 * margin)
        writer.draw_stack([program, subtitle, image, code, how], box, gap=3.0)
        return
    # Business card: the text on the left, the QR code on the right.
    margin = 4.0
    writer.draw_image(image, x + width - margin - image.height, y + (height - image.height) / 2)
    column = _Box(
        x + margin, y + margin, width - 2 * margin - image.height - 2, height - 2 * margin
    )
    writer.draw_stack([program, subtitle, code, how], column, gap=1.5)


def _check_size(size: Any, *, what: str = "size") -> str:
    if size not in CARD_SIZES:
        raise InvalidArgument(
            gettext("Unknown card %(what)s %(size)r: use %(choices)s.")
            % {"what": what, "size": size, "choices": " or ".join(CARD_SIZES)}
        )
    return str(size)


def code_card(
    code: ReferralCode | str, *, size: str = "a6", request: HttpRequest | None = None
) -> bytes:
    """A printable PDF card (one page the size of the card) for ``code`` (a
    :class:`~django_referral_rewards.models.ReferralCode` or its text). ``size`` is
    ``"a6"`` or ``"business"``. The share link is built on ``REFERRAL_REWARDS_SITE_URL``
    or ``request`` (:func:`.links.share_url`). Raises :class:`InvalidArgument` for an
    unknown size, :class:`CodeNotFound` for unknown text and :class:`ConfigurationError`
    without fpdf2."""
    size = _check_size(size)
    found: ReferralCode | None = (
        code
        if isinstance(code, ReferralCode)
        else ReferralCode.objects.select_related("program", "campaign", "owner__member").lookup(
            code
        )
    )
    if found is None:
        raise CodeNotFound()
    content = card_content(found, request=request)
    width, height = CARD_SIZES[size]
    writer = _Writer(page=(width, height))
    writer.pdf.set_title(gettext("Referral card %(code)s") % {"code": content.code})
    writer.pdf.add_page()
    # A hairline frame to cut along when the page is printed on larger paper.
    writer.pdf.set_draw_color(190)
    writer.pdf.set_line_width(0.1)
    writer.pdf.rect(0.2, 0.2, width - 0.4, height - 0.4)
    _draw_card(writer, content, size=size, x=0, y=0)
    return writer.output()


# --- sheets of cards ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SheetLayout:
    """How cards sit on a page: ``columns`` by ``rows`` cards of ``card`` size (mm)
    from ``origin`` (the top left corner of the first card) on a page of ``page``
    size in ``orientation`` (``"P"`` or ``"L"``)."""

    orientation: str
    page: tuple[float, float]
    card: tuple[float, float]
    columns: int
    rows: int
    origin: tuple[float, float]

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


def sheet_layout(paper: str = "a4", card_size: str = "business") -> SheetLayout:
    """The :class:`SheetLayout` with the most cards of ``card_size`` on ``paper``,
    portrait or landscape, with :data:`SHEET_MARGIN` all round; the cards touch each
    other (one cut between two cards) and the grid is centred."""
    if paper not in PAPER_SIZES:
        raise InvalidArgument(
            gettext("Unknown paper %(paper)r: use %(choices)s.")
            % {"paper": paper, "choices": " or ".join(PAPER_SIZES)}
        )
    card = CARD_SIZES[_check_size(card_size, what="size")]
    portrait = PAPER_SIZES[paper]
    best: SheetLayout | None = None
    for orientation, page in (("P", portrait), ("L", (portrait[1], portrait[0]))):
        columns = int((page[0] - 2 * SHEET_MARGIN) // card[0])
        rows = int((page[1] - 2 * SHEET_MARGIN) // card[1])
        origin = ((page[0] - columns * card[0]) / 2, (page[1] - rows * card[1]) / 2)
        layout = SheetLayout(orientation, page, card, columns, rows, origin)
        if best is None or layout.per_page > best.per_page:
            best = layout
    assert best is not None and best.per_page > 0  # every card size fits every paper
    return best


def _crop_marks(writer: _Writer, layout: SheetLayout, columns: int, rows: int) -> None:
    """Crop marks outside a grid of ``columns`` by ``rows`` cards: one pair for each
    cut, in the margin, never over a card."""
    pdf = writer.pdf
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    (x0, y0), (cw, ch) = layout.origin, layout.card
    x1, y1 = x0 + columns * cw, y0 + rows * ch
    length_x = min(MARK_LENGTH, x0 - MARK_OFFSET - UNPRINTABLE)
    length_y = min(MARK_LENGTH, y0 - MARK_OFFSET - UNPRINTABLE)
    for i in range(columns + 1):  # vertical cuts: marks above and below
        x = x0 + i * cw
        pdf.line(x, y0 - MARK_OFFSET, x, y0 - MARK_OFFSET - length_y)
        pdf.line(x, y1 + MARK_OFFSET, x, y1 + MARK_OFFSET + length_y)
    for j in range(rows + 1):  # horizontal cuts: marks left and right
        y = y0 + j * ch
        pdf.line(x0 - MARK_OFFSET, y, x0 - MARK_OFFSET - length_x, y)
        pdf.line(x1 + MARK_OFFSET, y, x1 + MARK_OFFSET + length_x, y)


def _check_count(count: Any) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_SHEET_CODES:
        raise InvalidArgument(
            gettext("The number of cards must be a whole number from 1 to %(max)s.")
            % {"max": MAX_SHEET_CODES}
        )
    return count


def card_sheet(
    *,
    program: Program | str | None = None,
    campaign: Campaign | None = None,
    count: int,
    paper: str = "a4",
    card_size: str = "business",
    created_by: Any = None,
    request: HttpRequest | None = None,
    max_uses: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[bytes, list[ReferralCode]]:
    """Create ``count`` (1 to :data:`MAX_SHEET_CODES`) new unique house codes of
    ``campaign`` (or of ``program`` without a campaign; default: the default program)
    and lay their cards out on ``paper`` (``"a4"`` or ``"letter"``), ``card_size``
    (``"business"`` or ``"a6"``) cards, as many per page as fit, with crop marks.

    Each code may be limited with ``max_uses`` and ``expires_at`` (see
    :func:`.services.codes.create_code`); its ``metadata`` records the sheet
    (``{"sheet": {"batch": "<hex>", "by": <user id>}}``, ``by`` the ``created_by``
    user's id) so that a lost batch can be found and deactivated. The codes and the PDF
    are made in one transaction: if drawing fails, no code is kept. Returns the PDF and
    the codes in the order of their cards."""
    from .services import codes as code_service

    count = _check_count(count)
    layout = sheet_layout(paper, card_size)
    if campaign is not None:
        if program is not None and Program.objects.resolve(program).pk != campaign.program_id:
            raise InvalidArgument(gettext("The campaign belongs to another program."))
        program_obj = campaign.program
    else:
        program_obj = Program.objects.resolve(program)
    _fpdf_class()  # fail before creating codes when fpdf2 is missing
    absolute_url("/", request=request)  # and when no link can be built
    batch = uuid.uuid4().hex
    by = getattr(created_by, "pk", None)
    with transaction.atomic():
        created = [
            code_service.create_code(
                program=program_obj,
                campaign=campaign,
                max_uses=max_uses,
                expires_at=expires_at,
            )
            for _ in range(count)
        ]
        ReferralCode.objects.filter(pk__in=[code.pk for code in created]).update(
            metadata={"sheet": {"batch": batch, "by": by}}
        )
        for code in created:
            code.metadata = {"sheet": {"batch": batch, "by": by}}
        pdf = _render_sheet(created, layout, card_size=card_size, request=request)
    return pdf, created


def _render_sheet(
    created: list[ReferralCode],
    layout: SheetLayout,
    *,
    card_size: str,
    request: HttpRequest | None,
) -> bytes:
    writer = _Writer(page=layout.page)
    writer.pdf.set_title(gettext("Referral cards"))
    per_page = layout.per_page
    for start in range(0, len(created), per_page):
        page_codes = created[start : start + per_page]
        writer.pdf.add_page()
        for index, code in enumerate(page_codes):
            row, column = divmod(index, layout.columns)
            _draw_card(
                writer,
                card_content(code, request=request),
                size=card_size,
                x=layout.origin[0] + column * layout.card[0],
                y=layout.origin[1] + row * layout.card[1],
            )
        used_rows = math.ceil(len(page_codes) / layout.columns)
        used_columns = min(layout.columns, len(page_codes))
        _crop_marks(writer, layout, used_columns, used_rows)
    return writer.output()


__all__ = [
    "CARD_SIZES",
    "MAX_SHEET_CODES",
    "PAPER_SIZES",
    "CardContent",
    "SheetLayout",
    "available",
    "card_content",
    "card_sheet",
    "code_card",
    "sheet_layout",
]
