"""Measure every bubble of a page in one Numba kernel call.

Each bubble is sampled in *template* coordinates: a fixed pattern of points inside the unit disk is scaled to the
bubble's semi-axes (times ``inner_fraction``, so the printed outline stays out) and mapped to the image through
the homography's local Jacobian at the bubble's centre. Rotation, scale, perspective and upside-down pages are
therefore all handled by the same arithmetic, and no page is warped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["BubbleMeasurements", "disk_samples", "ring_samples", "measure_bubbles"]


@dataclass(frozen=True)
class BubbleMeasurements:
    """Raw gray levels per bubble, in the page's measuring order."""

    inner_mean: np.ndarray  # mean gray inside the bubble (0 black .. 255 white)
    inner_dark_fraction: np.ndarray  # share of inner samples darker than the page's mid-gray
    ring_median: np.ndarray  # median gray on a ring just outside the bubble (local paper)


def disk_samples(per_axis: int) -> np.ndarray:
    """Points of a ``per_axis`` x ``per_axis`` grid that fall inside the unit disk, shape (m, 2)."""
    step = 2.0 / per_axis
    coords = -1.0 + step * (np.arange(per_axis) + 0.5)
    u, v = np.meshgrid(coords, coords)
    inside = u * u + v * v <= 1.0
    return np.ascontiguousarray(np.stack([u[inside], v[inside]], axis=1))


def ring_samples(count: int) -> np.ndarray:
    """``count`` points evenly spaced on the unit circle, shape (count, 2)."""
    angle = 2 * np.pi * (np.arange(count) + 0.5) / count
    return np.ascontiguousarray(np.stack([np.cos(angle), np.sin(angle)], axis=1))


@njit(cache=True, nogil=True, inline="always")
def _bilinear(image, x, y):
    rows, cols = image.shape
    if x < 0.0:
        x = 0.0
    if y < 0.0:
        y = 0.0
    if x > cols - 1.001:
        x = cols - 1.001
    if y > rows - 1.001:
        y = rows - 1.001
    ix = int(x)
    iy = int(y)
    fx = x - ix
    fy = y - iy
    top = image[iy, ix] * (1.0 - fx) + image[iy, ix + 1] * fx
    bottom = image[iy + 1, ix] * (1.0 - fx) + image[iy + 1, ix + 1] * fx
    return top * (1.0 - fy) + bottom * fy


@njit(cache=True, nogil=True, inline="always")
def _insertion_sort(values):
    # A few dozen values: faster than the general sort's call, and the same order.
    for i in range(1, values.shape[0]):
        value = values[i]
        j = i - 1
        while j >= 0 and values[j] > value:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = value


@njit(cache=True, nogil=True)
def _measure_kernel(image, centres, jacobians, semi_axes, inner, ring, inner_fraction, ring_fraction,
                    dark_level, out_mean, out_dark, out_ring):
    n = centres.shape[0]
    m = inner.shape[0]
    k = ring.shape[0]
    ring_values = np.empty(k)
    for b in range(n):
        cx = centres[b, 0]
        cy = centres[b, 1]
        j00 = jacobians[b, 0, 0]
        j01 = jacobians[b, 0, 1]
        j10 = jacobians[b, 1, 0]
        j11 = jacobians[b, 1, 1]
        ax = semi_axes[b, 0] * inner_fraction
        ay = semi_axes[b, 1] * inner_fraction
        total = 0.0
        dark = 0
        for s in range(m):
            u = inner[s, 0] * ax
            v = inner[s, 1] * ay
            value = _bilinear(image, cx + j00 * u + j01 * v, cy + j10 * u + j11 * v)
            total += value
            if value < dark_level:
                dark += 1
        out_mean[b] = total / m
        out_dark[b] = dark / m
        rx = semi_axes[b, 0] * ring_fraction
        ry = semi_axes[b, 1] * ring_fraction
        for s in range(k):
            u = ring[s, 0] * rx
            v = ring[s, 1] * ry
            ring_values[s] = _bilinear(image, cx + j00 * u + j01 * v, cy + j10 * u + j11 * v)
        _insertion_sort(ring_values)
        out_ring[b] = 0.5 * (ring_values[(k - 1) // 2] + ring_values[k // 2])


def measure_bubbles(image: np.ndarray, centres_px: np.ndarray, jacobians: np.ndarray, semi_axes_mm: np.ndarray,
                    *, inner: np.ndarray, ring: np.ndarray, inner_fraction: float, ring_fraction: float,
                    dark_level: float) -> BubbleMeasurements:
    """Measure all bubbles of one page.

    Parameters
    ----------
    image : (rows, cols) uint8 array
        The page, grayscale.
    centres_px : (n, 2) float array
        Bubble centres in image pixels (x, y).
    jacobians : (n, 2, 2) float array
        d(pixel)/d(mm) at each centre.
    semi_axes_mm : (n, 2) float array
        Bubble semi-axes (half width, half height) in mm.
    inner, ring : (m, 2) float arrays
        Unit-disk and unit-circle sample patterns (:func:`disk_samples`, :func:`ring_samples`).
    inner_fraction, ring_fraction : float
        Where inside and around the bubble to sample, as fractions of its semi-axes.
    dark_level : float
        Gray level below which a sample counts as dark.
    """
    n = len(centres_px)
    out_mean = np.empty(n)
    out_dark = np.empty(n)
    out_ring = np.empty(n)
    _measure_kernel(np.ascontiguousarray(image), np.ascontiguousarray(centres_px, np.float64),
                    np.ascontiguousarray(jacobians, np.float64), np.ascontiguousarray(semi_axes_mm, np.float64),
                    inner, ring, float(inner_fraction), float(ring_fraction), float(dark_level),
                    out_mean, out_dark, out_ring)
    return BubbleMeasurements(out_mean, out_dark, out_ring)
