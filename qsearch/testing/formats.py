"""The conformance suite of model formats (the ``qsearch.model_formats`` entry-point group): a
file of the format is found by its suffix, runs one row per image and the same each time,
refuses a damaged copy in one line naming it, and is a torch module (frozen or learning) only
where the format declares it can be, with the outputs the file gives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from qsearch.errors import QSearchError


@dataclass
class ModelFormatSetting:
    """A model file of the format under test and a float32 batch it takes (two images or
    more, laid out as the file expects)."""

    path: Path
    batch: np.ndarray
    tolerance: float = 1e-4
    """How far a module's outputs may stray from the file's runtime (absolute)."""


class ModelFormatSuite:
    """What every model format must do. Override ``format_setting``."""

    @pytest.fixture
    def format_setting(self) -> ModelFormatSetting:
        """The file and its batch."""
        raise NotImplementedError("override the format_setting fixture")

    def test_the_file_is_found_by_its_suffix_among_the_registered_formats(self, format_setting):
        """Its suffix names a registered format, which says what it is."""
        from qsearch.models.runtime import FORMATS, model_format

        found = model_format(format_setting.path)
        assert FORMATS[found.name] is found
        assert format_setting.path.suffix.lower() in found.suffixes and found.__doc__

    def test_it_runs_one_row_per_image_the_same_each_time(self, format_setting):
        """Each image's row does not depend on the others in the batch; a second call gives the
        same outputs; the identity is the file's digest."""
        from qsearch.models.runtime import Runtime, file_digest

        runtime, batch = Runtime(format_setting.path), format_setting.batch
        outputs = runtime(batch)
        assert len(outputs) == len(batch) and outputs.dtype == np.float32
        np.testing.assert_array_equal(runtime(batch), outputs)
        alone = runtime(batch[-1:])
        np.testing.assert_allclose(alone[0], outputs[-1], atol=format_setting.tolerance, rtol=0)
        assert runtime.sha256 == file_digest(format_setting.path)

    def test_a_damaged_file_is_refused_in_one_line_naming_it(self, format_setting, tmp_path):
        """Half a file, under the format's suffix, is a one-line refusal, not a traceback."""
        from qsearch.models.runtime import Runtime

        data = format_setting.path.read_bytes()
        damaged = tmp_path / f"damaged{format_setting.path.suffix}"
        damaged.write_bytes(data[: len(data) // 2])
        with pytest.raises(QSearchError) as refused:
            Runtime(damaged)
        assert str(damaged) in str(refused.value) and "\n" not in str(refused.value)

    def test_as_a_module_it_gives_the_files_outputs_or_refuses(self, format_setting):
        """Where the format is a frozen or a learning module, the module's outputs are the
        file's; where it declares it cannot learn, it refuses in one line naming the file."""
        from qsearch.models.runtime import Runtime, model_format

        path, batch = format_setting.path, format_setting.batch
        found, expected = model_format(path), Runtime(path)(batch)
        modules = [found.trainable(path)] if found.trains else []
        try:
            frozen = found.module(path)
        except QSearchError as refusal:
            assert str(path) in str(refusal)
        else:
            modules += [frozen] if frozen is not None else []
        for module in modules:
            np.testing.assert_allclose(
                _first_output(module, batch), expected, atol=format_setting.tolerance, rtol=0
            )
        if not found.trains:
            with pytest.raises(QSearchError, match=f"{path}: a {found.name} model cannot be"):
                found.trainable(path)


def _first_output(module, batch: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        output = module(torch.from_numpy(batch))
    first = output[0] if isinstance(output, (tuple, list)) else output
    return first.float().numpy()


__all__ = ["ModelFormatSetting", "ModelFormatSuite"]
