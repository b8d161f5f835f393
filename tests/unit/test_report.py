import numpy as np

from neovert.report import overlay


def test_overlay_colours_follow_the_paper_figure():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    pred = np.array([[2, 2, 0, 0]] * 4, np.uint8)
    truth = np.array([[0, 2, 2, 1]] * 4, np.uint8)
    rgb = overlay(image, pred, truth)
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[0, 1]) == (255, 255, 0) and tuple(rgb[0, 2]) == (0, 255, 0)
    assert rgb[0, 3, 0] == rgb[0, 3, 1] == rgb[0, 3, 2]  # lung is not coloured: grey radiograph
