"""The batch rules behind ``gmmkit segment`` (gmmkit_apps.segment.batch)."""
from pathlib import Path

from gmmkit_apps.segment.batch import expand_images, output_stems


def test_expand_images_lists_folders_and_reports_empty_ones(tmp_path):
    (tmp_path / "imgs").mkdir()
    for name in ("b.png", "a.JPG", "notes.txt"):
        (tmp_path / "imgs" / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    paths, problems = expand_images([tmp_path / "imgs", tmp_path / "empty", tmp_path / "c.png"],
                                    (".png", ".jpg"))
    assert [p.name for p in paths] == ["a.JPG", "b.png", "c.png"]
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'empty'}: folder holds no image")


def test_output_stems_are_unique():
    paths = [Path("a/x.png"), Path("b/x.png"), Path("x.jpg"), Path("y.png")]
    stems = output_stems(paths)
    assert stems == ["x_png", "x_png_2", "x_jpg", "y"] and len(set(stems)) == len(stems)
