"""The scanner: turns a marked page (template pixels at the sheet's dpi) into what a school scanner uploads.

Paper effects (tint, bleed-through) are applied first, then every geometric effect (scale, rotation, shift,
slight perspective, feeding the page upside down) as ONE ``cv2.warpPerspective``, then the feed: a feeder whose
speed drifts stretches the image unevenly along the feed (:func:`feed_rows`), then optics and sensor
(uneven lighting, blur, tone curve, noise, dust on the glass) and finally the station's output encoding
(JPEG round trip, or 1-bit by threshold or Floyd-Steinberg dithering). Files are written by
:func:`write_tiff` (multi-page TIFF, 1-bit pages as Group 4) and :func:`write_pdf` (one image per page at its
true dpi, JPEG pages embedded as they are).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
from numba import njit

from omr.geometry import MM_PER_INCH

__all__ = ["ScanParams", "homography", "feed_rows", "scan_points", "scan", "floyd_steinberg", "jpeg_round_trip",
           "bubble_darkness", "write_tiff", "write_pdf", "PageImage"]


@dataclass(frozen=True)
class ScanParams:
    """Everything the scanner did to one page; all values concrete (sampled from a profile)."""

    dpi: int = 200
    rotation_deg: float = 0.0  # counter-clockwise on the image, about the page centre
    shift_mm: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    perspective: tuple[float, float] = (0.0, 0.0)  # keystone: relative scale change across the width/height
    upside_down: bool = False
    blur: float = 0.0  # Gaussian sigma, output pixels
    noise: float = 0.0  # Gaussian sigma, gray levels
    brightness: float = 0.0  # added gray levels
    contrast: float = 1.0
    gamma: float = 1.0
    paper: float = 255.0  # gray level of the (tinted) paper
    lid: float = 250.0  # gray level of the scanner lid around the paper
    lighting: float = 0.0  # amplitude of uneven illumination (fraction)
    jpeg_quality: int | None = None
    binarize: str = "none"  # none | threshold | dither
    threshold: float = 150.0
    bleed: float = 0.0  # opacity of the mirrored ghost of the other side
    dust: int = 0  # specks and hairs on the glass
    overscan_mm: float = 0.0  # scan area beyond the paper on each side (0: the frame is the paper size)
    texture_seed: int = 0  # noise tile offsets, dust positions, lighting field
    # The feed (image rows are the feed direction): the local stretch along it is
    # 1 + feed_stretch + feed_drift * sin(2π * feed_cycles * row / rows + feed_phase) (see feed_rows).
    feed_stretch: float = 0.0  # uniform extra length along the feed (a slow feed), fraction
    feed_drift: float = 0.0  # amplitude of the scanner-speed drift: how far the local stretch wanders, fraction
    feed_cycles: float = 1.0  # how many times the speed wanders up and down over the image
    feed_phase: float = 0.0  # radians

    def to_json(self) -> dict:
        """The parameters as plain JSON data."""
        data = asdict(self)
        data["shift_mm"] = [round(float(v), 4) for v in self.shift_mm]
        data["perspective"] = [round(float(v), 6) for v in self.perspective]
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 4)
        return data


def homography(params: ScanParams, page_shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """3x3 map from template pixel coordinates (at ``params.dpi``) to output pixels, and the output shape.

    The output has the physical page size (plus ``overscan_mm`` each side) times ``params.scale``; the paper
    is scaled, rotated and shifted about its centre, given a slight keystone, and turned by 180 degrees when
    fed upside down. Without overscan a strong rotation pushes the paper's corners out of the frame.
    """
    rows, cols = page_shape
    px_per_mm = params.dpi / MM_PER_INCH
    margin = 2 * params.overscan_mm * px_per_mm
    out_rows, out_cols = int(round((rows + margin) * params.scale)), int(round((cols + margin) * params.scale))
    cx, cy = (cols - 1) / 2, (rows - 1) / 2
    ox, oy = (out_cols - 1) / 2, (out_rows - 1) / 2

    def translate(x: float, y: float) -> np.ndarray:
        return np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)

    kx, ky = params.perspective
    keystone = np.array([[1, 0, 0], [0, 1, 0], [kx / cols, ky / rows, 1]], np.float64)
    theta = np.deg2rad(params.rotation_deg)
    c, s = np.cos(theta), np.sin(theta)
    # y points down, so a counter-clockwise turn on screen is [[c, s], [-s, c]].
    rotate = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]], np.float64)
    scale = np.diag([params.scale, params.scale, 1.0])
    shift = translate(ox + params.shift_mm[0] * px_per_mm * params.scale,
                      oy + params.shift_mm[1] * px_per_mm * params.scale)
    matrix = shift @ rotate @ scale @ keystone @ translate(-cx, -cy)
    if params.upside_down:
        matrix = np.array([[-1, 0, out_cols - 1], [0, -1, out_rows - 1], [0, 0, 1]], np.float64) @ matrix
    return matrix / matrix[2, 2], (out_rows, out_cols)


def _feed_offset(params: ScanParams, y: np.ndarray, rows: int) -> np.ndarray:
    """How far (rows) the feed moves a point ``y`` rows from the leading edge: the integral of its local stretch."""
    y = np.asarray(y, np.float64)
    offset = params.feed_stretch * y
    if params.feed_drift:
        wave = 2 * np.pi * params.feed_cycles / rows
        offset = offset + params.feed_drift / wave * (np.cos(params.feed_phase) - np.cos(wave * y + params.feed_phase))
    return offset


def feed_rows(params: ScanParams, y: np.ndarray, rows: int) -> np.ndarray:
    """Where rows ``y`` of the image an even feed would give land in the image of this feed (``rows`` tall).

    The leading edge (row 0) enters first and stays put; further down, each row is moved by the integral of the
    local stretch ``1 + feed_stretch + feed_drift * sin(2π * feed_cycles * y / rows + feed_phase)``. A document
    feeder whose rollers slip or whose motor speed wanders does this; a homography cannot follow it, so the rows
    far from the anchors move against each other (what timing tracks, 同步头, let a reader correct).
    """
    return np.asarray(y, np.float64) + _feed_offset(params, y, rows)


def scan_points(params: ScanParams, matrix: np.ndarray, points_px: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Where (n, 2) template pixels land in the scan of ``shape``: through ``matrix``, then the feed."""
    points = np.asarray(points_px, np.float64).reshape(-1, 2)
    homogeneous = points @ matrix[:, :2].T + matrix[:, 2]
    mapped = homogeneous[:, :2] / homogeneous[:, 2:3]
    if params.feed_stretch or params.feed_drift:
        mapped[:, 1] = feed_rows(params, mapped[:, 1], shape[0])
    return mapped


def _feed(image: np.ndarray, params: ScanParams) -> np.ndarray:
    """The image as this feed delivers it: each output row shows the even feed's row that :func:`feed_rows` moved
    there (found by fixed-point iteration, which converges since the stretch stays within ±50 %), interpolated."""
    rows = image.shape[0]
    target = np.arange(rows, dtype=np.float64)
    source = target.copy()
    for _ in range(8):
        source = target - _feed_offset(params, source, rows)
    below = np.floor(source).astype(np.int64)
    share = (source - below).astype(np.float32)[:, None]
    inside = (below >= 0) & (below + 1 <= rows - 1)
    first, second = np.clip(below, 0, rows - 1), np.clip(below + 1, 0, rows - 1)
    out = image[first].astype(np.float32) * (1 - share) + image[second].astype(np.float32) * share
    out[~inside] = params.lid
    return np.round(out).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------
# Sensor textures, cached once per process (deterministic: fixed seeds)

_TILE = 1024


@lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    """Sensor noise plus paper-fibre mottle, uint8 centred on 128 with std 32, tiled 2x2 for wrap-around views."""
    rng = np.random.default_rng(0x5CA7)
    white = rng.standard_normal((_TILE, _TILE)).astype(np.float32)
    fibre = cv2.GaussianBlur(rng.standard_normal((_TILE, _TILE)).astype(np.float32), (0, 0), 1.5)
    tile = white + 0.6 * fibre / fibre.std()
    tile = np.clip(128 + 32 * tile / tile.std(), 0, 255).astype(np.uint8)
    return np.tile(tile, (2, 2))


def _add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    big = _noise_tile()
    oy, ox = (int(v) for v in rng.integers(0, _TILE, 2))
    gain = sigma / 32.0
    out = np.empty_like(image)
    for y in range(0, image.shape[0], _TILE):
        for x in range(0, image.shape[1], _TILE):
            block = image[y:y + _TILE, x:x + _TILE]
            h, w = block.shape
            out[y:y + h, x:x + w] = cv2.addWeighted(block, 1.0, big[oy:oy + h, ox:ox + w], gain, -128 * gain)
    return out


@njit(cache=True, nogil=True)
def _floyd_steinberg(image: np.ndarray, threshold: float) -> np.ndarray:  # pragma: no cover - compiled
    rows, cols = image.shape
    work = image.astype(np.float32)
    out = np.empty((rows, cols), np.uint8)
    for r in range(rows):
        for c in range(cols):
            old = work[r, c]
            new = 255.0 if old >= threshold else 0.0
            out[r, c] = np.uint8(new)
            err = old - new
            if c + 1 < cols:
                work[r, c + 1] += err * 0.4375
            if r + 1 < rows:
                if c > 0:
                    work[r + 1, c - 1] += err * 0.1875
                work[r + 1, c] += err * 0.3125
                if c + 1 < cols:
                    work[r + 1, c + 1] += err * 0.0625
    return out


def floyd_steinberg(image: np.ndarray, threshold: float = 128.0) -> np.ndarray:
    """Floyd-Steinberg dithering of a uint8 gray image to 0/255 (a scanner's 1-bit "halftone" mode)."""
    return _floyd_steinberg(np.ascontiguousarray(image, dtype=np.uint8), float(threshold))


def jpeg_round_trip(image: np.ndarray, quality: int, dpi: int | None = None) -> tuple[np.ndarray, bytes]:
    """Encode as JPEG at ``quality`` (with the dpi in the JFIF header) and decode again."""
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 gray
        raise RuntimeError("JPEG encoding failed")
    data = bytearray(buffer.tobytes())
    if dpi and data[6:11] == b"JFIF\x00":  # density units 1 = dots per inch
        data[13] = 1
        data[14:16] = int(dpi).to_bytes(2, "big")
        data[16:18] = int(dpi).to_bytes(2, "big")
    decoded = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_GRAYSCALE)
    return decoded, bytes(data)


# ----------------------------------------------------------------------------------------------------------


def scan(page: np.ndarray, params: ScanParams, ghost: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray, bytes | None]:
    """Scan a marked page.

    Parameters
    ----------
    page : numpy.ndarray
        Marked page, uint8 gray, 255 = white paper, template pixels at ``params.dpi``.
    params : ScanParams
        What the scanner does.
    ghost : numpy.ndarray, optional
        Darkness (uint8, 0 = nothing) of the other side as seen through the paper, already mirrored and
        blurred, same shape as ``page``; used when ``params.bleed`` > 0.

    Returns
    -------
    image : numpy.ndarray
        The scan, uint8 gray (only 0 and 255 when binarized).
    matrix : numpy.ndarray
        Homography from template pixels to ``image`` pixels, before the feed (see :func:`scan_points`).
    jpeg : bytes or None
        The JPEG file the station produced, when ``params.jpeg_quality`` is set.
    """
    image = page
    if params.paper < 255:
        lut = np.round(np.arange(256) * (params.paper / 255.0)).astype(np.uint8)
        image = cv2.LUT(image, lut)
    if params.bleed > 0 and ghost is not None:
        image = cv2.addWeighted(image, 1.0, ghost, -params.bleed * params.paper / 255.0, 0.0)
    matrix, out_shape = homography(params, page.shape)
    if not np.allclose(matrix, np.eye(3)) or out_shape != page.shape:
        image = cv2.warpPerspective(image, matrix, (out_shape[1], out_shape[0]), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=float(params.lid))
        _paper_edge(image, matrix, page.shape, params)
    if params.feed_stretch or params.feed_drift:
        if abs(params.feed_stretch) + abs(params.feed_drift) >= 0.5:
            raise ValueError("feed stretch and drift must stay within ±50 %")
        image = _feed(image, params)
    if params.lighting > 0:
        light_rng = np.random.default_rng([params.texture_seed, 1])
        field = light_rng.uniform(1.0 - params.lighting, 1.0, (3, 4)).astype(np.float32)
        field = cv2.resize(field, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_CUBIC)
        image = cv2.multiply(image, np.clip(field * 255, 0, 255).astype(np.uint8), scale=1 / 255.0)
    if params.blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), params.blur)
    if params.gamma != 1.0 or params.contrast != 1.0 or params.brightness != 0.0:
        v = (np.arange(256) / 255.0) ** params.gamma
        v = (v - 0.5) * params.contrast + 0.5 + params.brightness / 255.0
        image = cv2.LUT(image, np.clip(np.round(v * 255), 0, 255).astype(np.uint8))
    if params.noise > 0:
        image = _add_noise(image, params.noise, np.random.default_rng([params.texture_seed, 2]))
    if params.dust > 0:
        image = image.copy() if image is page else image
        _dust(image, params.dust, params.dpi, np.random.default_rng([params.texture_seed, 3]))
    jpeg = None
    if params.binarize == "threshold":
        image = np.where(image < params.threshold, 0, 255).astype(np.uint8)
    elif params.binarize == "dither":
        image = floyd_steinberg(image)
    elif params.jpeg_quality is not None:
        image, jpeg = jpeg_round_trip(image, params.jpeg_quality, params.dpi)
    if image is page:
        image = page.copy()
    return image, matrix, jpeg


def bubble_darkness(image: np.ndarray, matrix: np.ndarray, cx: np.ndarray, cy: np.ndarray, rx: np.ndarray,
                    ry: np.ndarray, scale: float, inner: float = 0.6, params: ScanParams | None = None) -> np.ndarray:
    """How dark each bubble's inner box looks in a scan, relative to the paper around it (0 = paper).

    Centres and radii are template pixels, mapped into ``image`` by ``matrix`` (and the feed of ``params``); the
    paper level is the 90th percentile of a patch around the bubble, so uneven lighting and tinted paper cancel.
    Bubbles whose patch leaves the frame get NaN.
    """
    centres = np.stack([cx, cy], axis=1)
    mapped = scan_points(params or ScanParams(), matrix, centres, image.shape)
    px, py = np.round(mapped[:, 0]).astype(int), np.round(mapped[:, 1]).astype(int)
    hx = np.maximum(1, np.floor(rx * inner * scale)).astype(int)
    hy = np.maximum(1, np.floor(ry * inner * scale)).astype(int)
    out = np.full(len(px), np.nan)
    rows, cols = image.shape
    for size in set(zip(hx.tolist(), hy.tolist())):
        sel = np.flatnonzero((hx == size[0]) & (hy == size[1]))
        ax, ay = int(np.ceil(size[0] / inner * 1.6)), int(np.ceil(size[1] / inner * 2.0))  # paper patch
        ok = (px[sel] - ax >= 0) & (px[sel] + ax < cols) & (py[sel] - ay >= 0) & (py[sel] + ay < rows)
        sel = sel[ok]
        if not len(sel):
            continue
        def gather(half_x: int, half_y: int, step: int = 1) -> np.ndarray:
            r = py[sel, None, None] + np.arange(-half_y, half_y + 1, step)[None, :, None]
            c = px[sel, None, None] + np.arange(-half_x, half_x + 1, step)[None, None, :]
            return image[r, c].reshape(len(sel), -1)

        patch = gather(ax, ay, max(1, min(ax, ay) // 6))  # a sparse sample is plenty for the paper level
        paper = np.partition(patch, int(0.9 * (patch.shape[1] - 1)), axis=1)[:, int(0.9 * (patch.shape[1] - 1))]
        out[sel] = 1.0 - gather(*size).mean(axis=1) / np.maximum(paper.astype(np.float64), 1.0)
    return out


def _paper_edge(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], params: ScanParams) -> None:
    """A thin shadow where the paper edge meets the lid (only visible where the lid shows)."""
    rows, cols = shape
    corners = np.array([[-0.5, -0.5], [cols - 0.5, -0.5], [cols - 0.5, rows - 0.5], [-0.5, rows - 0.5]],
                       np.float64).reshape(-1, 1, 2)
    out = cv2.perspectiveTransform(corners, matrix).reshape(-1, 2)
    gray = int(max(0.0, min(params.lid, params.paper) - 45))
    limit = np.array([image.shape[1] - 0.5, image.shape[0] - 0.5])
    for a, b in zip(out, np.roll(out, -1, axis=0)):
        # An edge lying on (or beyond) the frame's border is not visible: the paper fills the frame there.
        if any((a[k] <= 0.5 and b[k] <= 0.5) or (a[k] >= limit[k] - 1 and b[k] >= limit[k] - 1) for k in (0, 1)):
            continue
        cv2.line(image, tuple(np.round(a * 16).astype(int)), tuple(np.round(b * 16).astype(int)), gray, 1,
                 cv2.LINE_AA, 4)


def _dust(image: np.ndarray, count: int, dpi: int, rng: np.random.Generator) -> None:
    rows, cols = image.shape
    for _ in range(count):
        x, y = rng.uniform(0, cols), rng.uniform(0, rows)
        gray = int(rng.uniform(30, 150))
        if rng.random() < 0.2:  # a hair or fibre
            steps = rng.integers(8, 25)
            heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.25, steps))
            length = rng.uniform(1.0, 3.0) * dpi / 100
            pts = np.stack([x + np.cumsum(np.cos(heading)) * length, y + np.cumsum(np.sin(heading)) * length], 1)
            cv2.polylines(image, [np.round(pts * 16).astype(np.int32)], False, gray, 1, cv2.LINE_AA, 4)
        else:
            radius = rng.uniform(0.4, 1.6) * dpi / 200
            cv2.circle(image, (int(x * 16), int(y * 16)), max(1, int(radius * 16)), gray, -1, cv2.LINE_AA, 4)


# ----------------------------------------------------------------------------------------------------------
# Multi-page files as scanner stations upload them


@dataclass(frozen=True)
class PageImage:
    """One page to write: pixels, dpi and, for JPEG pages, the station's JPEG bytes."""

    image: np.ndarray
    dpi: int
    jpeg: bytes | None = None
    bilevel: bool = False  # only 0 and 255: stored as 1 bit per pixel


def write_tiff(path: str | Path, pages: Iterable[PageImage]) -> int:
    """Write a multi-page TIFF, streaming page by page; 1-bit pages as Group 4, gray pages lossless (deflate).

    Returns the number of pages written.
    """
    from PIL import Image, TiffImagePlugin

    count = 0
    with TiffImagePlugin.AppendingTiffWriter(str(path), True) as tiff:
        for page in pages:
            if page.bilevel:
                Image.fromarray(page.image > 127).save(tiff, format="TIFF", compression="group4",
                                                       dpi=(page.dpi, page.dpi))
            else:
                Image.fromarray(page.image).save(tiff, format="TIFF", compression="tiff_adobe_deflate",
                                                           dpi=(page.dpi, page.dpi))
            tiff.newFrame()
            count += 1
    return count


def write_pdf(path: str | Path, pages: Iterable[PageImage]) -> int:
    """Write a PDF with one full-page image per page, sized to the page's physical size at its dpi.

    JPEG pages are embedded as they are (DCTDecode, no second compression), 1-bit pages as 1-bit Flate and
    other gray pages as 8-bit Flate. Pages are streamed to disk, so a batch of thousands stays small in memory.
    Returns the number of pages written.
    """
    offsets: dict[int, int] = {}
    page_ids: list[int] = []
    next_id = 3  # 1: catalog, 2: page tree
    with open(path, "wb") as f:
        f.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

        def obj(number: int, head: bytes, stream: bytes | None = None) -> None:
            offsets[number] = f.tell()
            f.write(b"%d 0 obj\n" % number + head)
            if stream is not None:
                f.write(b"\nstream\n" + stream + b"\nendstream")
            f.write(b"\nendobj\n")

        for page in pages:
            rows, cols = page.image.shape
            if page.jpeg is not None:
                data, extra = page.jpeg, b"/Filter /DCTDecode /BitsPerComponent 8"
            elif page.bilevel:
                data = zlib.compress(np.packbits(page.image > 127, axis=1).tobytes(), 6)
                extra = b"/Filter /FlateDecode /BitsPerComponent 1"
            else:
                data = zlib.compress(np.ascontiguousarray(page.image).tobytes(), 6)
                extra = b"/Filter /FlateDecode /BitsPerComponent 8"
            image_id, content_id, page_id = next_id, next_id + 1, next_id + 2
            next_id += 3
            obj(image_id, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray %s "
                          b"/Length %d >>" % (cols, rows, extra, len(data)), data)
            w_pt, h_pt = cols * 72.0 / page.dpi, rows * 72.0 / page.dpi
            content = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
            obj(content_id, b"<< /Length %d >>" % len(content), content)
            obj(page_id, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Contents %d 0 R "
                         b"/Resources << /XObject << /Im0 %d 0 R >> /ProcSet [/PDF /ImageB] >> >>"
                % (w_pt, h_pt, content_id, image_id))
            page_ids.append(page_id)
        kids = b" ".join(b"%d 0 R" % p for p in page_ids)
        obj(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids)))
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        xref = f.tell()
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % next_id)
        for number in range(1, next_id):
            f.write(b"%010d 00000 n \n" % offsets[number])
        f.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (next_id, xref))
    return len(page_ids)
