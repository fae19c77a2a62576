"""Small files share a transaction (``etl.loader._BATCH_ROWS``); each must still load
whole or not at all, and see the files loaded before it, as if it had its own."""

from __future__ import annotations

import pytest
from readerkit import findings, ingest, manifest, row_counts, simple_835, table_counts

pytestmark = pytest.mark.integration

CLAIMS = ["CLP*B1*1*100*80**MB*P1", "SVC*HC:99213*100*80**1", "CAS*CO*45*20"]


def _files(n: int) -> dict[str, str]:
    return {f"f{k}.835": simple_835(CLAIMS, "80", control=k + 1, trace=f"TRACE{k}")
            for k in range(n)}


def test_a_failed_write_redoes_the_others_of_its_transaction(tmp_path, monkeypatch):
    """The third of five files fails while being written: the two before it, already
    written in the same transaction, are loaded again on their own; the two after it
    load; the third is rejected with nothing of it left."""
    import etl.loader as loader

    real = loader._commit_file
    calls = []

    def failing(con, d, src, *args):
        calls.append(src.name)
        if src.name == "f2.835" and calls.count("f2.835") == 1:
            raise RuntimeError("disk full")
        return real(con, d, src, *args)

    monkeypatch.setattr(loader, "_commit_file", failing)
    batch = ingest(tmp_path, _files(5))
    assert [r.status for r in batch.report.results] == ["loaded"] * 5
    assert calls[:3] == ["f0.835", "f1.835", "f2.835"]  # one transaction so far
    assert calls[3:6] == ["f0.835", "f1.835", "f2.835"]  # redone, each on its own
    assert table_counts(batch.wh) == {"file_manifest": 5, "segments": 5 * 19,
                                      "file_findings": 0}


def test_a_write_that_fails_twice_rejects_only_that_file(tmp_path, monkeypatch):
    import etl.loader as loader

    real = loader._commit_file

    def failing(con, d, src, *args):
        if src.name == "f1.835":
            raise RuntimeError("a bug")
        return real(con, d, src, *args)

    monkeypatch.setattr(loader, "_commit_file", failing)
    batch = ingest(tmp_path, _files(3))
    assert [r.status for r in batch.report.results] == ["loaded", "rejected", "loaded"]
    bad = batch.result("f1.835")
    assert bad.reason == ("f1.835: the loader failed on this file (RuntimeError); "
                          "nothing of it was loaded")
    assert row_counts(batch.wh, bad.file_id) == {
        "file_manifest": 1, "segments": 0, "file_findings": 0}


def test_files_in_one_transaction_see_each_other(tmp_path):
    """The same bytes twice and the same payment twice, all small enough to share one
    transaction: the copy is skipped, the second payment is a finding."""
    first = simple_835(CLAIMS, "80", control=1, trace="SAME")
    again = simple_835(CLAIMS, "80", control=2, trace="SAME")
    batch = ingest(tmp_path, {"a.835": first, "a_copy.835": first, "b.835": again})
    assert [r.status for r in batch.report.results] == ["loaded", "skipped", "loaded"]
    a = batch.file_id("a.835")
    assert findings(batch.wh, batch.file_id("b.835")) == [
        (5, "TRN", "DUPLICATE_PAYMENT", f"same TRN03+TRN02 as transaction 1 of file {a}")]
    assert len(manifest(batch.wh)) == 2


def test_a_rejected_file_between_two_good_ones(tmp_path):
    good = _files(2)
    bad = good["f1.835"].replace("*100*80**", "*1OO*80**")
    files = {"f0.835": good["f0.835"], "bad.835": bad, "f1.835": good["f1.835"]}
    batch = ingest(tmp_path, files)
    assert [r.status for r in batch.report.results] == ["loaded", "rejected", "loaded"]
    assert batch.result("bad.835").reason == "bad.835: segment 14 (CLP): CLP03 is not a number"
    assert table_counts(batch.wh) == {"file_manifest": 3, "segments": 2 * 19, "file_findings": 0}
