"""Student labels: yuejuan's Code 128 reader (omr/code128.py) against zxing-cpp, ms per label and read rate.

Three sets, every label read by both on the same pixels:

1. simulated sheets (clean, typical, hard profiles; A4 ``cn-a4-55`` with a Code 128 label and, a third as many,
   A3 ``cn-a3-100`` cards with a QR label; 200 dpi gray JPEG) read the production way
   (JPEG decoded at ~100 dpi, registered by ``read_page``): the label crops ``read_page`` hands its barcode step
   are recorded and each decoder is timed on them. Ours runs as the reader calls it, once without and once with
   the 考号 grid's reading as ``confirms``;
2. Code 128 labels alone at 100 (a JPEG page as the reader decodes it), 150, 200 and 300 dpi, modules of 0.25
   and 0.375 mm (2 and 3 dots of a 203 dpi label printer), blurred (sigma 0.6 to 2.0 px), skewed a little, noisy;
3. the other symbologies of 准考证 stickers (Code 39, PDF417, DataMatrix, QR), written by zxing-cpp and scanned
   the same way; before zxing-cpp the reader read none of them but QR (with OpenCV's detector, also shown).

``read_label`` is the reader's barcode step as it is now (omr/barcode.py): Code 128 by yuejuan's decoder, zxing-cpp
when that finds no readable scanline; the other symbologies by zxing-cpp.

"read" = exactly the printed text; "wrong" = another text (both decoders must never do this); the rest is no
reading (the page goes to review). Run: ``python benchmarks/barcode_read.py`` (``--sheets``, ``--labels``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import omr  # noqa: E402,F401  (sets the decoder pixel limit before cv2 loads)
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402

import omr.read as reader  # noqa: E402
from omr.batch import decode_min_side_px  # noqa: E402
from omr.code128 import decode_region, encode  # noqa: E402
from omr.load import iter_pages  # noqa: E402
from sample_sheets import resolve_template  # noqa: E402
from sample_sheets.marks import scanned_label  # noqa: E402
from sample_sheets.simulate import write_batch  # noqa: E402

Decoder = Callable[[np.ndarray, str | None], str | None]
FORMATS = {"code128": zxingcpp.BarcodeFormat.Code128, "code39": zxingcpp.BarcodeFormat.Code39,
           "pdf417": zxingcpp.BarcodeFormat.PDF417, "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
           "qr": zxingcpp.BarcodeFormat.QRCode}
# Printed module sizes of the other stickers (mm): Code 39 narrow bar, PDF417 and the matrix codes' cells.
OTHER_MODULE_MM = {"code39": 0.3, "pdf417": 0.3, "datamatrix": 0.5, "qr": 0.5}


def zxing_text(crop: np.ndarray, formats: list) -> str | None:
    """zxing-cpp's reading of ``crop``: the one text its symbols agree on, else None."""
    texts = {found.text for found in zxingcpp.read_barcodes(np.ascontiguousarray(crop), formats=formats)}
    return texts.pop() if len(texts) == 1 else None


DECODERS: dict[str, Decoder] = {
    "yuejuan": lambda crop, _: decode_region(crop, enough=2),
    "yuejuan+grid": lambda crop, grid: decode_region(crop, enough=2, confirms=grid),
    "zxing Code128": lambda crop, _: zxing_text(crop, [FORMATS["code128"]]),
    "zxing 5 formats": lambda crop, _: zxing_text(crop, list(FORMATS.values())),
    "read_label (ours, else zxing)": lambda crop, _: reader.read_label(crop, "code128"),
}


def zxing_modules(text: str, symbology: str) -> np.ndarray:
    """Modules (True = ink) of zxing-cpp's symbol: a row for linear codes, the matrix for the others."""
    image = np.asarray(zxingcpp.create_barcode(text, FORMATS[symbology]).to_image(scale=1, add_quiet_zones=False))
    return image[0] < 128 if symbology in ("code128", "code39") else image < 128


def score(decoder: Decoder, cases: list[tuple[np.ndarray, str, str | None]]) -> tuple[float, int, int]:
    """(median ms per label, labels read right, labels read wrong) over (crop, truth, grid reading) cases."""
    times, right, wrong = [], 0, 0
    for crop, truth, grid in cases:
        started = time.perf_counter()
        text = decoder(crop, grid)
        times.append((time.perf_counter() - started) * 1000)
        right += text == truth
        wrong += text is not None and text != truth
    return (statistics.median(times) if times else float("nan")), right, wrong


def report(title: str, cases: list[tuple[np.ndarray, str, str | None]], decoders: dict[str, Decoder]) -> None:
    line = f"  {title:<34} n={len(cases):<4}"
    for name, decoder in decoders.items():
        ms, right, wrong = score(decoder, cases)
        line += f" | {name} {100 * right / max(len(cases), 1):5.1f}% {ms:5.2f} ms"
        line += f" WRONG {wrong}" if wrong else ""
    print(line)


def sheet_crops(template_name: str, profile: str, count: int, seed: int
                ) -> list[tuple[np.ndarray, str, str | None]]:
    """The label crops the production read path cuts from simulated sheets, with the truth and the grid's id."""
    template = resolve_template(template_name)
    prepared = reader.prepare_template(template)
    recorded: list[tuple[np.ndarray, str | None]] = []
    original = reader.read_label

    def record(crop: np.ndarray, symbology: str, confirms: str | None = None) -> str | None:
        recorded.append((crop.copy(), confirms))
        return original(crop, symbology, confirms)

    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        write_batch(template, tmp, count=count, seed=seed, profile=profile, fmt="jpg", dpi=200)
        reader.read_label = record
        try:
            for path in sorted(Path(tmp).glob("*.jpg")):
                truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
                recorded.clear()
                for page in iter_pages(path, reduce_jpeg_to_min_px=decode_min_side_px(template)):
                    reader.read_page(page.image, prepared, source=str(path))
                cases += [(crop, truth["barcode"], grid) for crop, grid in recorded if truth.get("barcode")]
        finally:
            reader.read_label = original
    return cases


def label_cases(symbology: str, dpi: int, module_mm: float, blur_px: float, count: int,
                rng: np.random.Generator) -> list[tuple[np.ndarray, str, str | None]]:
    cases = []
    for _ in range(count):
        text = "".join(str(d) for d in rng.integers(0, 10, 10))
        modules = encode(text)[10:-10] if symbology == "code128" else zxing_modules(text, symbology)
        image = scanned_label(modules, module_mm, dpi, rng, blur_px=blur_px, noise=rng.uniform(2, 6),
                              skew_deg=rng.uniform(-3, 3), height_mm=8.0)
        cases.append((image, text, None))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, default=60, help="simulated sheets per profile")
    parser.add_argument("--labels", type=int, default=40, help="labels per resolution/module/blur cell")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(args.seed)
    decode_region(np.full((40, 200), 240, np.uint8))  # warm-up (imports, first calls)

    print(f"1. simulated sheets, production path (200 dpi JPEG decoded at ~100 dpi), {args.sheets} per profile")
    for profile in ("clean", "typical", "hard"):
        report(profile, sheet_crops("cn-a4-55", profile, args.sheets, args.seed), DECODERS)
    qr_cv2: Decoder = lambda crop, _: cv2.QRCodeDetector().detectAndDecode(crop)[0] or None  # noqa: E731
    qr = {"OpenCV QR (the reader before)": qr_cv2, "read_label qr": lambda crop, _: reader.read_label(crop, "qr")}
    for profile in ("clean", "typical", "hard"):
        cases = sheet_crops("cn-a3-100", profile, args.sheets // 3, args.seed)
        report(f"A3 cn-a3-100 QR, {profile}", cases, qr)

    print(f"2. Code 128 labels alone, {args.labels} per line (read rate, median ms per label)")
    alone = {name: DECODERS[name]
             for name in ("yuejuan", "zxing Code128", "zxing 5 formats", "read_label (ours, else zxing)")}
    for dpi in (100, 150, 200, 300):
        for module_mm in (0.25, 0.375):
            for blur in (0.6, 1.2, 2.0):
                title = f"{dpi} dpi, {module_mm} mm, blur {blur} px"
                report(title, label_cases("code128", dpi, module_mm, blur, args.labels, rng), alone)

    print(f"3. other symbologies (zxing-cpp's writer), {args.labels} per line")
    for symbology, module_mm in OTHER_MODULE_MM.items():
        for dpi in (100, 150, 200, 300):
            cases = label_cases(symbology, dpi, module_mm, 1.0, args.labels, rng)
            decoders = {"zxing 5 formats": DECODERS["zxing 5 formats"],
                        "read_label": lambda crop, _, symbology=symbology: reader.read_label(crop, symbology)}
            if symbology == "qr":
                decoders["OpenCV QR (the reader before)"] = qr_cv2
            report(f"{symbology} {module_mm} mm, {dpi} dpi, blur 1.0 px", cases, decoders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
