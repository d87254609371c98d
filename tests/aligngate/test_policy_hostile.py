"""Hostile and broken policy files: each is refused with a PolicyError naming file:line, and the CLI exits 2.

Alias bombs, oversized files, FIFOs / devices / sockets / directories, code-executing tags, non-finite
thresholds, deep nesting, bad encodings and odd shapes. Nothing may expand, hang, crash or exit 1.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
import yaml

from aligngate.cli import main
from aligngate.errors import PolicyError
from aligngate.policy import MAX_DEPTH, MAX_POLICY_BYTES, load_policy, parse_policy_text

HEAD = "apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata:\n  name: t\n"
CHECK = "spec:\n  checks:\n    - id: drift.kl_mean\n"  # lines 5-7 after HEAD; the check's keys start at line 8


def _write(tmp_path: Path, text: str | bytes, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def _load_err(path: Path) -> PolicyError:
    with pytest.raises(PolicyError) as ei:
        load_policy(path)
    assert ei.value.file == str(path)
    return ei.value


def _cli(path: Path | str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``aligngate validate-policy PATH``: it must exit 2; returns stderr."""
    capsys.readouterr()
    assert main(["validate-policy", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err
    return err


def _both(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes, line: int) -> PolicyError:
    """Library and CLI both refuse ``text`` at ``line``; returns the library's error."""
    p = _write(tmp_path, text)
    e = _load_err(p)
    assert e.line == line, str(e)
    assert f"{p}:{line}: " in _cli(p, capsys)
    return e


# ---------------------------------------------------------------- 1. alias bombs and anchors
def _laughs(levels: int, width: int) -> str:
    """The 'billion laughs' shape: each level is a list of ``width`` aliases of the level below."""
    out = ["bomb:", '  l0: &l0 ["lol"]']
    for i in range(1, levels):
        out.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return HEAD + CHECK + "      params:\n" + "\n".join("        " + s for s in out) + "\n"


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 9 levels x 9 aliases: 9**8 = 43 million strings once expanded; refused at the first anchor (line 10)
    e = _both(tmp_path, capsys, _laughs(9, 9), 10)
    assert "anchors" in str(e) and "aliases" in str(e)
    assert e.key == "spec.checks.0.params.bomb.l0"


def test_small_alias_use_is_refused_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = _both(tmp_path, capsys, _laughs(3, 2), 10)  # a harmless size: still no anchors in policies
    assert "anchors" in str(e)
    bare = HEAD + CHECK + "      params: {x: *undefined}\n"  # an alias without an anchor
    assert "aliases" in str(_both(tmp_path, capsys, bare, 8))


# ---------------------------------------------------------------- 2. size
def test_oversized_policy_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = HEAD + "# " + "x" * MAX_POLICY_BYTES + "\n"
    p = _write(tmp_path, big)
    e = _load_err(p)
    assert "too large" in str(e) and e.line is None
    assert "too large" in _cli(p, capsys)
    # just under the limit is read and parsed (here: valid apart from the padding comment)
    ok = _write(tmp_path, HEAD + "# " + "x" * (MAX_POLICY_BYTES - len(HEAD) - 3) + "\n", "ok.yaml")
    assert load_policy(ok).policy.metadata.name == "t"


# ---------------------------------------------------------------- 3. non-regular files
def test_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    errors: list[BaseException] = []
    t = threading.Thread(target=lambda: errors.append(_load_err(fifo)), daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():  # the old behaviour: blocked in read() forever; release it before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(5)
        pytest.fail("load_policy blocked on a FIFO")
    assert errors and "FIFO" in str(errors[0])
    assert "FIFO" in _cli(fifo, capsys)


def test_directory_device_and_socket_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "dir.yaml"
    d.mkdir()
    assert "directory" in str(_load_err(d)) and "directory" in _cli(d, capsys)
    if Path("/dev/null").exists():
        dev = Path("/dev/null")
        assert "character device" in str(_load_err(dev)) and "character device" in _cli(dev, capsys)
    if hasattr(socket, "AF_UNIX"):
        sock_path = tmp_path / "s.yaml"
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.bind(str(sock_path))
            except OSError:
                pytest.skip("cannot bind a unix socket here")
            assert "socket" in str(_load_err(sock_path)) and "socket" in _cli(sock_path, capsys)


def test_symlink_to_regular_policy_is_followed(repo_root: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.yaml"
    link.symlink_to(repo_root / "policies" / "default.yaml")
    assert load_policy(link).policy.metadata.name == "default"
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    assert "not found" in str(_load_err(dangling))


# ---------------------------------------------------------------- 4. tags
@pytest.mark.parametrize(("value", "shown"), [
    ("!!python/object:os.system ls", "!!python/object:os.system"),
    ("!!python/object/apply:os.system [ls]", "!!python/object/apply:os.system"),
    ("!!python/name:os.system ''", "!!python/name:os.system"),
    ("!!python/module:os ''", "!!python/module:os"),
    ("!!binary aGk=", "!!binary"),
    ("!!set {a}", "!!set"),
    ("!!omap [{a: 1}]", "!!omap"),
    ("!foo bar", "!foo"),
    ("!<tag:example.com,2000:x> y", "tag:example.com,2000:x"),
])
def test_every_tag_variant_names_file_line_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   value: str, shown: str) -> None:
    e = _both(tmp_path, capsys, HEAD + CHECK + "      params:\n        x: " + value + "\n", 9)
    assert f"'{shown}' is not allowed" in str(e) and e.key == "spec.checks.0.params.x"


def test_plain_standard_tags_still_work() -> None:
    p = parse_policy_text(HEAD + CHECK + "      threshold: {op: '<=', value: !!float 2}\n"
                          "      description: !!str 12\n", "p.yaml")
    assert p.spec.checks[0].threshold is not None and p.spec.checks[0].threshold.value == 2.0
    assert p.spec.checks[0].description == "12"


# ---------------------------------------------------------------- 5. non-finite numbers
@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.Inf", "nan", "'inf'", "'1e400'", "1.0e+400"])
def test_non_finite_threshold_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    e = _both(tmp_path, capsys, HEAD + CHECK + f"      threshold: {{op: '>=', value: {value}}}\n", 8)
    assert e.key == "spec.checks.0.threshold.value" and "finite" in str(e)


@pytest.mark.parametrize(("section", "line"), [
    ("adapter_audit:\n    max_scale: .inf\n", 7),
    ("adapter_audit:\n    max_file_mb: '+inf'\n", 7),
    ("curation:\n    trigger:\n      max_pvalue: .nan\n", 8),
    ("curation:\n    detectors:\n      duplicate: {threshold: .nan}\n", 8),
])
def test_non_finite_section_numbers_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                section: str, line: int) -> None:
    e = _both(tmp_path, capsys, HEAD + "spec:\n  " + section, line)
    assert e.key is not None and e.key.startswith("spec.")


def test_non_finite_param_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = _both(tmp_path, capsys, HEAD + CHECK + "      params:\n        judge_error: .nan\n", 9)
    assert e.key == "spec.checks.0.params.judge_error"


# ---------------------------------------------------------------- 6. nesting, unexpected failures
def test_deep_nesting_is_refused_with_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    e = _both(tmp_path, capsys, HEAD + CHECK + "      params: {x: " + deep + "}\n", 8)
    assert f"deeper than {MAX_DEPTH}" in str(e)
    assert "deeper" in str(_both(tmp_path, capsys, deep + "\n", 1))
    block = HEAD + CHECK + "      params:\n" + "".join(" " * (8 + 2 * i) + f"k{i}:\n" for i in range(200))
    assert "deeper" in str(_both(tmp_path, capsys, block, 9 + MAX_DEPTH - 4))
    # a sensible depth is fine
    nested = "[" * 20 + "]" * 20
    assert parse_policy_text(HEAD + CHECK + "      params: {x: " + nested + "}\n").spec.checks[0].params["x"]


@pytest.mark.parametrize("exc", [MemoryError(), RecursionError("maximum recursion depth exceeded")])
def test_unexpected_parser_failure_is_a_policy_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    real_parse = yaml.parse

    def failing_parse(*args: object, **kwargs: object):
        events = real_parse(*args, **kwargs)  # type: ignore[arg-type]
        for i, event in enumerate(events):
            if i == 6:
                raise exc
            yield event

    monkeypatch.setattr(yaml, "parse", failing_parse)
    e = _both(tmp_path, capsys, HEAD, 2)  # fails after the 6th event, the "kind" key on line 2
    assert type(exc).__name__ in str(e)


def test_cli_turns_any_loader_failure_into_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import aligngate.policy

    def boom(path: object = None) -> None:
        raise MemoryError

    monkeypatch.setattr(aligngate.policy, "load_policy", boom)
    p = _write(tmp_path, HEAD)
    assert "MemoryError" in _cli(p, capsys)


# ---------------------------------------------------------------- encodings and shapes
def test_invalid_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "UTF-8" in str(_both(tmp_path, capsys, HEAD.encode() + b"spec:\n  \xc3\x28: 1\n", 6))
    utf16 = "\ufeff".encode("utf-16-le") + HEAD.encode("utf-16-le")
    assert "UTF-8" in str(_both(tmp_path, capsys, utf16, 1))


@pytest.mark.parametrize(("text", "line", "words"), [
    ("", 1, "empty"),
    ("# only\n# comments\n", 1, "empty"),
    ("\n\n   \n", 1, "empty"),
    ("---\n", 2, "empty"),
    ("- apiVersion: aligngate.dev/v1\n- kind: GatePolicy\n", 1, "must be a mapping"),
    ("# a list\n- a\n", 2, "must be a mapping"),
    ("just text\n", 1, "must be a mapping"),
    (HEAD + "---\n" + HEAD, 5, "single YAML document"),
    (HEAD + "x: a\x00b\n", 5, "invalid character"),
    (HEAD + "? [a, b]\n: c\n", 5, "keys must be plain scalars"),
    (HEAD + "spec:\n  evaluation:\n    seed: " + "9" * 5000 + "\n", 7, "invalid !!int"),
    (HEAD + "spec:\n  evaluation:\n    judge: 2024-13-45\n", 7, "invalid !!timestamp"),
    (HEAD + "metadata2: {1: a, 0x1: b}\n", 5, "duplicate key"),
    ("apiVersion: [x\n", 2, "invalid YAML"),
])
def test_broken_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, words: str) -> None:
    assert words in str(_both(tmp_path, capsys, text, line))


def test_bom_and_crlf_simply_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = HEAD + CHECK + "      threshold: {op: '<=', value: 2.0}\n"
    for variant in ("\ufeff" + good, good.replace("\n", "\r\n"), "\ufeff" + good.replace("\n", "\r\n")):
        p = _write(tmp_path, variant)
        assert load_policy(p).policy.spec.checks[0].id == "drift.kl_mean"
        capsys.readouterr()
        assert main(["validate-policy", str(p)]) == 0
    # line numbers stay right with CRLF and a BOM
    bad = "\ufeff" + (HEAD + CHECK + "      sevrity: block\n").replace("\n", "\r\n")
    assert _both(tmp_path, capsys, bad, 8).key == "spec.checks.0.sevrity"
