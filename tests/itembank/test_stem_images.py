"""Stem images: plain names inside the folder, PNG or JPEG by their bytes, within the byte and pixel limits."""

from __future__ import annotations

import os

import pytest

from bank_builders import chinese_bank, png_bytes
from itembank.images import ImageLimits, attach_images, check_bank_images, stem_image_path
from itembank.model import BankError
from sample_sheets.hostile import png_pixel_bomb


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "S1.png").write_bytes(png_bytes(1))
    return images


def test_a_good_image_is_found(folder):
    assert stem_image_path(folder, "S1.png") == (folder / "S1.png").resolve()


@pytest.mark.parametrize("name", ["../secret.png", "sub/S1.png", "/etc/passwd", "..", "C:evil.png", " S1.png"])
def test_names_that_are_paths_are_refused(folder, name):
    (folder.parent / "secret.png").write_bytes(png_bytes(2))
    with pytest.raises(BankError, match="not a path|outside"):
        stem_image_path(folder, name)


def test_a_link_out_of_the_folder_is_refused(folder):
    (folder.parent / "secret.png").write_bytes(png_bytes(2))
    os.symlink(folder.parent / "secret.png", folder / "link.png")
    with pytest.raises(BankError, match="outside the image folder"):
        stem_image_path(folder, "link.png")


def test_a_file_that_is_not_an_image_is_refused(folder):
    (folder / "fake.png").write_text("<script>alert(1)</script>")
    with pytest.raises(BankError, match="not a PNG or JPEG"):
        stem_image_path(folder, "fake.png")


def test_a_pixel_bomb_is_refused_from_its_header(folder):
    (folder / "bomb.png").write_bytes(png_pixel_bomb(50_000))
    assert (folder / "bomb.png").stat().st_size < 10_000
    with pytest.raises(BankError, match=r"50000x50000 pixels, over the 40 Mpx limit"):
        stem_image_path(folder, "bomb.png")


def test_an_oversized_file_is_refused(folder):
    with pytest.raises(BankError, match="over the 100 byte limit"):
        stem_image_path(folder, "S1.png", limits=ImageLimits(max_bytes=100))


def test_the_bank_check_names_each_item(folder):
    bank = chinese_bank()  # S1 names S1.png
    paths, problems = check_bank_images(bank, folder)
    assert set(paths) == {"S1"} and problems == []
    (folder / "S1.png").unlink()
    paths, problems = check_bank_images(bank, folder)
    assert paths == {} and problems == ["item S1: stem image 'S1.png': no such file in " + str(folder)]


def test_images_are_attached_by_item_id(folder):
    (folder / "T1.jpg").write_bytes(b"")  # attached by name; checked when the bank's images are checked
    bank, attached = attach_images(chinese_bank(), folder)
    assert attached == ["T1"] and bank.by_id()["T1"].stem_image == "T1.jpg"
    _, problems = check_bank_images(bank, folder)
    assert problems == ["item T1: stem image 'T1.jpg': not a PNG or JPEG image"]
