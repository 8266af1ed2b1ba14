"""Reading back what the package draws: QR codes decoded from PNG images, from SVG
documents (rasterised here: both backends' SVG are rectangles) and from the images
embedded in PDF cards; the text and drawing operations of the PDFs."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pypdf
from PIL import Image

SVG_NS = "{http://www.w3.org/2000/svg}"


def decode_array(pixels: np.ndarray) -> str:
    """The text of the QR code in a greyscale image (``""`` when none is found)."""
    height = pixels.shape[0]
    if height < 400:  # small images: enlarge (nearest neighbour keeps the modules sharp)
        factor = 400 // height + 1
        pixels = cv2.resize(pixels, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    text, _points, _straight = cv2.QRCodeDetectorAruco().detectAndDecode(pixels)
    return text


def decode_image(image: Image.Image) -> str:
    return decode_array(np.array(image.convert("L")))


def decode_png(data: bytes) -> str:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return decode_image(image)


_NUMBER = r"-?\d*\.?\d+(?:e-?\d+)?"
_TOKEN = re.compile(rf"[MmHhVvZz]|{_NUMBER}")


def _path_commands(d: str) -> list[tuple[str, list[float]]]:
    commands: list[tuple[str, list[float]]] = []
    for token in _TOKEN.findall(d.replace(",", " ")):
        if token.isalpha():
            commands.append((token, []))
        else:
            commands[-1][1].append(float(token))
    return commands


def svg_rectangles(svg: str) -> tuple[tuple[float, float], list[tuple[float, ...]]]:
    """``((width, height), rectangles)`` of an SVG QR code in viewBox units: segno
    strokes each run of dark modules as a horizontal line one module thick (under a
    ``scale()`` transform), qrcode fills one ``M x,y H V H z`` square per module."""
    root = ET.fromstring(svg)
    x0, y0, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert (x0, y0) == (0, 0)
    rectangles: list[tuple[float, ...]] = []
    for path in root.iter(f"{SVG_NS}path"):
        scale = 1.0
        found = re.search(rf"scale\(({_NUMBER})\)", path.attrib.get("transform", ""))
        if found:
            scale = float(found[1])
        stroked = "stroke" in path.attrib and path.attrib.get("fill", "") in ("", "none")
        x = y = 0.0
        points: list[tuple[float, float]] = []
        for command, args in _path_commands(path.attrib["d"]):
            if command in "Mm":
                for i in range(0, len(args), 2):
                    dx, dy = args[i], args[i + 1]
                    x, y = (x + dx, y + dy) if command == "m" else (dx, dy)
                points = [(x, y)]
            elif command in "Hh":
                for value in args:
                    new_x = x + value if command == "h" else value
                    if stroked:  # a line one unit thick, centred on y
                        rectangles.append(
                            tuple(
                                v * scale for v in (min(x, new_x), y - 0.5, max(x, new_x), y + 0.5)
                            )
                        )
                    x = new_x
                    points.append((x, y))
            elif command in "Vv":
                for value in args:
                    y = y + value if command == "v" else value
                    points.append((x, y))
            elif command in "Zz" and not stroked:
                xs = [p[0] for p in points]
                ys = [p[1] for p in points]
                rectangles.append(tuple(v * scale for v in (min(xs), min(ys), max(xs), max(ys))))
    return (width, height), rectangles


def rasterise_svg(svg: str, pixels: int = 600) -> np.ndarray:
    """The SVG QR code drawn black on white, ``pixels`` wide."""
    (width, height), rectangles = svg_rectangles(svg)
    assert rectangles, "no dark modules found in the SVG"
    factor = pixels / width
    canvas = np.full((round(height * factor), pixels), 255, dtype=np.uint8)
    for left, top, right, bottom in rectangles:
        canvas[
            round(top * factor) : round(bottom * factor),
            round(left * factor) : round(right * factor),
        ] = 0
    return canvas


def decode_svg(svg: str) -> str:
    return decode_array(rasterise_svg(svg))


# --- PDF ----------------------------------------------------------------------------------


def pdf_reader(data: bytes) -> pypdf.PdfReader:
    assert data.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(data))


def pdf_text(data: bytes) -> str:
    """All the text of a PDF, its pages' texts joined by newlines."""
    return "\n".join(page.extract_text() for page in pdf_reader(data).pages)


def pdf_images(page: pypdf.PageObject) -> list[Image.Image]:
    return [image.image for image in page.images]


def page_size_mm(page: pypdf.PageObject) -> tuple[float, float]:
    box = page.mediabox
    return (round(float(box.width) * 25.4 / 72, 1), round(float(box.height) * 25.4 / 72, 1))


_LINE = re.compile(rf"({_NUMBER}) ({_NUMBER}) m ({_NUMBER}) ({_NUMBER}) l S")


def page_lines(page: pypdf.PageObject) -> list[tuple[float, float, float, float]]:
    """The straight lines (``x1 y1 m x2 y2 l S``) drawn on a page, in points."""
    content = page.get_contents()
    assert content is not None
    text = content.get_data().decode("latin-1")
    return [tuple(float(v) for v in found) for found in _LINE.findall(text)]  # type: ignore[misc]


_IMAGE = re.compile(rf"q ({_NUMBER}) 0 0 ({_NUMBER}) ({_NUMBER}) ({_NUMBER}) cm /I\d+ Do Q")


def page_image_boxes(page: pypdf.PageObject) -> list[tuple[float, float, float, float]]:
    """``(left, bottom, right, top)`` in points of every image drawn on a page."""
    content = page.get_contents()
    assert content is not None
    found = []
    for width, height, x, y in _IMAGE.findall(content.get_data().decode("latin-1")):
        left, bottom = float(x), float(y)
        found.append((left, bottom, left + float(width), bottom + float(height)))
    return found
