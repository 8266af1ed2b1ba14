"""QR codes of share links, drawn by the backend ``REFERRAL_REWARDS_QR_BACKEND`` names.

Two backends ship: :class:`SegnoBackend` (the default; SVG and PNG in pure Python, no
Pillow) and :class:`QRCodeBackend` (the ``qrcode`` library, PNG through Pillow; install
the ``qrcode`` extra). A backend of your own subclasses :class:`QRBackend` and
implements :meth:`~QRBackend.svg` and :meth:`~QRBackend.png`.

Every code is drawn at error-correction level M (15% of it may be damaged or covered and
it still reads) with the four-module quiet zone scanners expect.

>>> from django_referral_rewards import qr
>>> qr.qr_svg("https://shop.example/r/K7Q2MX9PA/")  # doctest: +SKIP
'<svg xmlns="http://www.w3.org/2000/svg" ...'
"""

from __future__ import annotations

import io
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext

from .conf import app_settings
from .exceptions import ConfigurationError, InvalidArgument
from .links import share_url

#: Modules of white space around the code (the QR specification's quiet zone).
BORDER = 4
#: The largest scale (pixels per module) the views accept.
MAX_SCALE = 40
#: The longest text a code is drawn for (a share link is far shorter).
MAX_DATA = 1000


def _check(data: Any, scale: Any) -> tuple[str, int]:
    if not isinstance(data, str) or not data or len(data) > MAX_DATA:
        raise InvalidArgument(
            gettext("A QR code needs text of 1 to %(max)s characters.") % {"max": MAX_DATA}
        )
    if not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= MAX_SCALE:
        raise InvalidArgument(
            gettext("The QR code scale must be a whole number from 1 to %(max)s.")
            % {"max": MAX_SCALE}
        )
    return data, scale


class QRBackend:
    """Draws a QR code of a text. Subclasses implement :meth:`svg` and :meth:`png`."""

    def svg(self, data: str, *, scale: int = 4, title: str = "") -> str:
        """The code as an SVG document (text), ``scale`` user units per module, with
        ``title`` as its accessible name."""
        raise NotImplementedError

    def png(self, data: str, *, scale: int = 8) -> bytes:
        """The code as a PNG image, ``scale`` pixels per module."""
        raise NotImplementedError


class SegnoBackend(QRBackend):
    """QR codes drawn by `segno <https://segno.readthedocs.io/>`_ (pure Python)."""

    def _make(self, data: str) -> Any:
        import segno

        return segno.make_qr(data, error="m", boost_error=False)

    def svg(self, data: str, *, scale: int = 4, title: str = "") -> str:
        out = io.BytesIO()
        code = self._make(data)
        code.save(
            out,
            kind="svg",
            scale=scale,
            border=BORDER,
            xmldecl=False,
            title=title or None,
            nl=False,
        )
        text = out.getvalue().decode()
        # A viewBox lets the image scale with CSS (segno writes only width and height).
        size = code.symbol_size(scale=1, border=BORDER)[0]
        return text.replace("<svg ", f'<svg viewBox="0 0 {size * scale} {size * scale}" ', 1)

    def png(self, data: str, *, scale: int = 8) -> bytes:
        out = io.BytesIO()
        self._make(data).save(out, kind="png", scale=scale, border=BORDER)
        return out.getvalue()


class QRCodeBackend(QRBackend):
    """QR codes drawn by the `qrcode <https://pypi.org/project/qrcode/>`_ library: PNG
    through Pillow, SVG through its path image factory. Needs the ``qrcode`` extra
    (``pip install "django-referral-rewards[qrcode]"``)."""

    def _make(self, data: str, scale: int, image_factory: Any = None) -> Any:
        try:
            import qrcode
            import qrcode.constants
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                gettext(
                    "The qrcode QR backend needs the qrcode library: "
                    'pip install "django-referral-rewards[qrcode]".'
                )
            ) from exc
        code = qrcode.QRCode(
            error_correction=qrcode.constants.ERROR_CORRECT_M,
            box_size=scale,
            border=BORDER,
            image_factory=image_factory,
        )
        code.add_data(data)
        code.make(fit=True)
        return code.make_image()

    def svg(self, data: str, *, scale: int = 4, title: str = "") -> str:
        import qrcode.image.svg

        image = self._make(data, scale, qrcode.image.svg.SvgPathImage)
        text: str = image.to_string(encoding="unicode")
        if title:
            from django.utils.html import escape

            head, sep, rest = text.partition(">")
            text = f"{head}{sep}<title>{escape(title)}</title>{rest}"
        return text

    def png(self, data: str, *, scale: int = 8) -> bytes:
        try:
            import PIL  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                gettext(
                    "The qrcode QR backend draws PNG images through Pillow: pip install pillow."
                )
            ) from exc
        out = io.BytesIO()
        self._make(data, scale).save(out, format="PNG")
        return out.getvalue()


def qr_svg(data: str, *, scale: int = 4, title: str = "") -> str:
    """``data`` as an SVG QR code, drawn by the configured backend; with a ``title`` it
    is an accessible image (``role="img"`` named by its ``<title>``)."""
    data, scale = _check(data, scale)
    svg = app_settings.qr_backend().svg(data, scale=scale, title=title)
    if title and "role=" not in svg.split(">", 1)[0]:
        svg = svg.replace("<svg ", '<svg role="img" ', 1)
    return svg


def qr_png(data: str, *, scale: int = 8) -> bytes:
    """``data`` as a PNG QR code, drawn by the configured backend."""
    data, scale = _check(data, scale)
    return app_settings.qr_backend().png(data, scale=scale)


def code_qr(
    code: Any, *, format: str = "svg", scale: int | None = None, request: HttpRequest | None = None
) -> str | bytes:
    """The QR code of ``code``'s absolute share link (see :func:`.links.share_url`), as
    SVG text (``format="svg"``) or PNG bytes (``format="png"``)."""
    url = share_url(code, request=request)
    if format == "svg":
        return qr_svg(url, scale=scale or 4, title=gettext("QR code of %(url)s") % {"url": url})
    if format == "png":
        return qr_png(url, scale=scale or 8)
    raise InvalidArgument(
        gettext("Unknown QR code format %(format)r: use svg or png.") % {"format": format}
    )


__all__ = [
    "QRBackend",
    "QRCodeBackend",
    "SegnoBackend",
    "code_qr",
    "qr_png",
    "qr_svg",
]
