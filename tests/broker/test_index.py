"""The per-topic index's stamp lookup, which duplicate replies use."""

from __future__ import annotations

from wiber.broker.index import TopicIndex


def test_hlc_of_finds_stamps_inside_rows_and_none_outside() -> None:
    index = TopicIndex()
    index.append(log_index=3, count=2, first_hlc=100)
    index.append(log_index=7, count=3, first_hlc=500)
    assert [index.hlc_of(o) for o in range(5)] == [100, 101, 500, 501, 502]
    assert index.hlc_of(5) is None  # not written yet
    index.truncate_before(7)  # retention drops the first batch
    assert index.hlc_of(1) is None
    assert index.hlc_of(2) == 500
