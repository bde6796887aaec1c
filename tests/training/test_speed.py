"""`python -m training speed`: timed windows on the real pipeline and the projected wall time."""

from __future__ import annotations

import pytest

from training.__main__ import main
from training.speed import SpeedReport
from training.zoo import ZOO


def test_projection_and_steadiness() -> None:
    report = SpeedReport("final", epochs=24, train_images=55_000, images_per_s=[500.0, 250.0, 375.0])
    assert report.median == 375.0
    assert report.minutes_at(500.0) == pytest.approx(24 * 55_000 / 500 / 60)
    assert not report.steady
    assert "unsteady" in report.summary()
    steady = SpeedReport("final", epochs=24, train_images=55_000, images_per_s=[500.0, 480.0])
    assert steady.steady and "unsteady" not in steady.summary()
    assert "44.9 min at the median" in steady.summary()  # 24 x 55,000 images at 490/s


@pytest.mark.slow
def test_speed_command_on_real_data(dataset, capsys: pytest.CaptureFixture[str]) -> None:
    main(["speed", "--model", "mlp", "--windows", "2", "--steps", "5"])
    out = capsys.readouterr().out
    assert out.startswith("mlp: ") and "per window" in out
    assert f"for {ZOO['mlp'].epochs} epochs of 55000 images" in out
