"""issue 17: many promoters in separate processes share one registry. Every promotion gets its own sequence number
(the old per-name lock gave 90 records only 67 numbers), every report copy is the report it was promoted from, and
current() agrees with the records."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from aligngate.fileio import sha256_file
from aligngate.promotion import current, demote, events, promote

PROCS, PER_PROC, SHARED_PER_PROC = 6, 15, 3  # 12 distinct names and 3 promotions of one shared name per process

_WORKER = """
import json, sys, time
from pathlib import Path
from aligngate.promotion import promote
reg, reports, go, wid = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
while not go.exists():
    time.sleep(0.005)
out = []
for d in sorted(reports.glob(f"w{wid}-*")):
    name = (d / "name").read_text()
    rec = promote(reg, name, d)
    out.append({"seq": rec["seq"], "name": name, "src": str(d / "report.json")})
print(json.dumps(out))
"""


def _reports(root: Path) -> None:
    for w in range(PROCS):
        for i in range(PER_PROC):
            d = root / f"w{w}-{i:02d}"
            d.mkdir(parents=True)
            name = "shared" if i < SHARED_PER_PROC else f"cand-{w}-{i}"
            (d / "name").write_text(name)
            (d / "report.json").write_text(json.dumps({
                "verdict": "pass", "exit_code": 0, "finished_at": f"{w}-{i}", "worker": w, "i": i,
                "subjects": {"candidate": {"model": name}}}, indent=2))
            (d / "report.md").write_text(f"# {name} from worker {w}, #{i}\n" + "x" * (i * 997))
            (d / "report.html").write_text(f"<h1>{name} {w} {i}</h1>")


def test_concurrent_promoters_get_distinct_numbers_and_their_own_reports(tmp_path: Path) -> None:
    reg, reports, go = tmp_path / "registry", tmp_path / "reports", tmp_path / "go"
    _reports(reports)
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(reg), str(reports), str(go), str(w)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(PROCS)]
    time.sleep(0.3)  # let the interpreters start, then release them together
    go.write_text("go")
    done = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        done += json.loads(out)

    total = PROCS * PER_PROC
    evs = events(reg)
    assert len(done) == len(evs) == total
    assert sorted(e["seq"] for e in evs) == list(range(1, total + 1))  # unique and dense across all names
    assert sorted(r["seq"] for r in done) == list(range(1, total + 1))  # what each promoter was told
    src = {r["seq"]: r["src"] for r in done}
    for e in evs:
        copy = Path(e["report"])
        assert copy.parent.name == f"{e['seq']:06d}"
        assert sha256_file(copy) == e["report_sha256"] == sha256_file(src[e["seq"]]), e
        origin = Path(src[e["seq"]]).parent
        for f in ("report.md", "report.html"):
            assert sha256_file(copy.parent / f) == sha256_file(origin / f), (e["seq"], f)
        assert json.loads(copy.read_text())["subjects"]["candidate"]["model"] == e["name"]
    assert sorted(p.name for p in (reg / "records").iterdir()) == sorted(
        f"{e['seq']:06d}-promote-{e['name']}.json" for e in evs)  # no leftovers
    assert not [p for p in (reg / "reports").iterdir() if p.name.startswith(".")]

    live = current(reg)
    assert len(live) == PROCS * (PER_PROC - SHARED_PER_PROC) + 1
    last = {}
    for e in evs:
        last[e["name"]] = e["seq"]
    assert {n: r["seq"] for n, r in live.items()} == last
    assert all(r["status"] == "promoted" for r in live.values())
    shared = live["shared"]
    assert sha256_file(shared["report"]) == shared["report_sha256"]

    # the registry goes on normally afterwards, and a demotion of a live name lands once
    demote(reg, "shared", "re-check failed")
    assert current(reg)["shared"]["status"] == "demoted"
    rec = promote(reg, "after", reports / "w0-05")
    assert rec["seq"] == total + 2
