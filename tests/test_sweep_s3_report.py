"""A sweep on S3 ends like a local one: the report lands in OUT/report, the results table is
printed, and nothing is left in the working directory (no ./report-<name>/)."""
from __future__ import annotations

import pytest

from sweeps import pareto
from sweeps.engine.cli import print_summary
from sweeps.engine.driver import Summary, _report
from sweeps.engine.identity import FINGERPRINT_FILE
from sweeps.engine.spec import expand, spec_from_dict
from workers.actor import SweepWorker
from workers.shards import SweepDir


@pytest.mark.slow  # the report itself takes ~1 min on 2 busy cores
def test_an_s3_sweeps_report_and_table_without_a_stray_folder(s3_server, tmp_path, monkeypatch, capsys):
    out = f"s3://{s3_server.bucket('report')}/sw"
    spec = spec_from_dict({"name": "s3report", "models": ["tiny"],
                           "tasks": [{"name": "countdown", "limit": 2, "gen_length": 8, "block_length": 8}],
                           "samplers": [{"name": "confidence"}, {"name": "random"}], "samples": 2, "batch_size": 4})
    plan = expand(spec)
    # what the driver writes before any batch runs: the sweep's settings (the report reads the current ones)
    SweepDir(out).write_small(FINGERPRINT_FILE, plan.identity.to_json(spec.name))
    w = SweepWorker(out, "test")  # in-process: the rows a cluster's actors would write
    for b in plan.batches:
        w.run(b)
    monkeypatch.chdir(tmp_path)
    report = _report(out, print)
    assert report == f"{out}/report" and list(tmp_path.iterdir()) == []
    assert SweepDir(out).read_small("report/report.md").startswith(b"# Sweep report")
    pareto.print_results(out)
    print_summary(Summary(out=out, total=8, present_before=0, ran=8, report=report))
    printed = capsys.readouterr().out
    assert "confidence" in printed and "random" in printed  # the headline table
    assert f"report: {out}/report/report.md" in printed
