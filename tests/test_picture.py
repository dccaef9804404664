"""The demo's picture: frames side by side, the zoomed crop where the source has most detail."""
import numpy as np

from nvcodec.rd.picture import detail_crop, save_png, side_by_side
from nvcodec.io import read_video


def test_detail_crop_finds_the_textured_corner():
    frame = np.full((40, 60, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    frame[20:, 30:] = rng.integers(0, 256, (20, 30, 3))  # noise in the bottom-right quarter
    assert detail_crop(frame) == (20, 30, 20, 30)


def test_side_by_side_layout(tmp_path):
    a = np.zeros((40, 60, 3), np.uint8)
    b = np.full((40, 60, 3), 200, np.uint8)
    image = side_by_side([("a", a), ("b", b)], crop=(10, 15, 20, 30))
    assert image.shape == (2 * 40 + 14, 2 * 60, 3)
    # below each frame its crop, zoomed twice: b's panel is b's colour away from the outline
    assert (image[14 + 40 + 10, 60 + 10] == 200).all()
    assert (image[14 + 5, 5] == 0).all()  # the frame itself
    assert (image[14 + 10, 15] == (255, 0, 0)).all()  # the crop's outline on the frame
    save_png(tmp_path / "p.png", image)
    assert np.array_equal(read_video(tmp_path / "p.png").frames[0], image)
