"""The 6x6 X-or-O network of the StatQuest lesson."""
import pytest

from cnnstudio.lessons.xo import XOLesson


@pytest.fixture(scope="module")
def lesson():
    return XOLesson()


def test_it_has_twenty_numbers_to_show(lesson):
    assert lesson.network.weight_counts() == [9 + 1, 2 * 4 + 2]
    assert lesson.trace.stages[0].conv.shape == (1, 4, 4) and lesson.trace.stages[0].pooled.shape == (1, 2, 2)


def test_x_and_o_are_classified(lesson):
    lesson.draw("X")
    assert lesson.prediction[0] == "X"
    lesson.draw("O")
    assert lesson.prediction[0] == "O"


@pytest.mark.parametrize("dy, dx", [(0, 1), (0, -1), (1, 0), (-1, 0)])
def test_the_x_shifted_by_one_pixel_is_still_an_x(lesson, dy, dx):
    lesson.draw("X")
    lesson.shift(dy, dx)
    assert lesson.prediction[0] == "X"
    lesson.draw("O")
    lesson.shift(dy, dx)
    assert lesson.prediction[0] == "O"


def test_training_takes_about_a_second(lesson):
    assert lesson.report.accuracy == 1.0 and lesson.report.seconds < 5
