import numpy as np
import pytest

from qsearch import QTable
from qsearch.search.space import SPACES, BandSpace, MonotoneSpace
from qsearch.tables.bands import zigzag_bands
from qsearch.tables.qtable import to_zigzag


@pytest.mark.parametrize("name", [name for name, _ in SPACES.items()])
def test_any_real_vector_becomes_a_valid_table_of_the_space(name):
    space = SPACES[name]()
    rng = np.random.default_rng(0)
    wild = rng.normal(0, 500, size=(50, space.dim))  # far outside the box, non-integer
    for x in wild:
        table = space.to_qtable(x)
        assert table.to_vector().min() >= 1 and table.to_vector().max() <= 255
        assert space.contains(table)
    clipped = space.clip(wild)
    assert (
        clipped.dtype.kind == "i" and (clipped >= space.low).all() and (clipped <= space.high).all()
    )


@pytest.mark.parametrize("name", [name for name, _ in SPACES.items()])
def test_round_trip_is_exact_for_the_space_own_tables(name):
    space = SPACES[name]()
    for x in space.sample(np.random.default_rng(1), 100):
        table = space.to_qtable(x)
        assert space.to_qtable(space.from_qtable(table)) == table


def test_ijg_tables_are_in_every_space_but_monotone():
    assert BandSpace().contains(QTable.from_quality(50))
    assert SPACES["quality"]().contains(QTable.from_quality(17))
    assert not SPACES["quality"]().contains(QTable.from_vector(np.full(128, 3)))
    assert not MonotoneSpace().contains(QTable.from_quality(50))  # Annex K is not zigzag-monotone


def test_monotone_tables_rise_along_the_zigzag():
    table = MonotoneSpace().to_qtable(np.random.default_rng(2).integers(1, 256, 128))
    for half in (table.luma, table.chroma):
        assert (np.diff(to_zigzag(half)) >= 0).all()


def test_bands_partition_the_zigzag_from_low_to_high_frequency():
    bands = zigzag_bands(6)
    assert np.array_equal(np.sort(np.concatenate(bands)), np.arange(64))
    assert bands[0].tolist() == [0] and max(bands[-1]) == 63
    x = np.zeros(12, dtype=int)
    x[5] = 4  # one octave coarser in luma's highest band only
    coarse, base = BandSpace().to_qtable(x), QTable.from_quality(50)
    changed = to_zigzag(coarse.luma) != to_zigzag(base.luma)
    assert set(np.flatnonzero(changed)) <= set(bands[5].tolist()) and changed.any()
    assert coarse.chroma.tolist() == base.chroma.tolist()
