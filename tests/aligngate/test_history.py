"""History store and control rules."""

from __future__ import annotations

from pathlib import Path

from aligngate.history import append_run, control_check, cusum, metric_series, runs


def _rep(rate: float) -> dict[str, object]:
    return {"verdict": "pass", "exit_code": 0, "finished_at": "t", "subjects": {"candidate": {"model": "m"}},
            "checks": [{"id": "refusal.harmful_refusal_rate", "value": rate, "n": 80},
                       {"id": "adapter.audit", "value": None}],
            "summary": {"metrics": {"candidate": {"embedded-harmful": {"refusal_rate": rate, "n": 80}}}}}


def test_history_grows_one_row_per_run(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    for r in (0.95, 0.96, 0.94):
        append_run(db, "v1", _rep(r))
    append_run(db, "other", _rep(0.5))
    assert len(runs(db, "v1")) == 3 and len(runs(db)) == 4
    assert metric_series(db, "v1", "refusal.harmful_refusal_rate") == [0.95, 0.96, 0.94]
    assert metric_series(db, "v1", "suite.embedded-harmful.refusal_rate") == [0.95, 0.96, 0.94]


def test_control_rules() -> None:
    stable = [0.95, 0.96, 0.94, 0.95, 0.96, 0.95, 0.94, 0.96]
    assert not control_check(stable, "k").alarm
    drifted = stable[:5] + [0.90, 0.86, 0.80]
    res = control_check(drifted, "k")
    assert res.alarm and "CUSUM" in res.reason
    assert control_check([0.9], "k").reason == "not enough history"
    slow = cusum([0.93] * 10, 0.95, 0.01)
    assert slow["alarm"] and slow["first_alarm_index"] is not None
