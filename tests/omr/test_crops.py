"""omr.crops.fit_within: a crop scaled down to its bounds, never up."""

import numpy as np

from omr.crops import fit_within


def test_fit_within_bounds_the_longest_side_and_the_pixels_and_leaves_small_crops_alone():
    tall = np.zeros((5000, 300), np.uint8)
    assert fit_within(tall, 4096, 10**8).shape[0] <= 4096
    square = np.zeros((3000, 3000), np.uint8)
    scaled = fit_within(square, 4096, 4_000_000)
    assert scaled.size <= 4_000_000 and abs(scaled.shape[0] - scaled.shape[1]) <= 1
    small = np.zeros((40, 50), np.uint8)
    assert fit_within(small, 4096, 4_000_000) is small
