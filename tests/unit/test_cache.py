"""The layer cache cannot lose a finding: keyed by the settings key and the digest of the bytes read."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.build import tutorial_insecure, write_image
from scanner.cache import CachedImage, CachedLayer, ScanCache, decode, encode
from scanner.detectors.known_values import KnownSecret, KnownSecretSpec, load_known_secrets
from scanner.findings import Finding, Location, Severity
from scanner.layer import Limits
from scanner.model import Hit, ImageMetadata, LayerOutcome, LayerSummary, Owner, Problem
from scanner.policy import AllowEntry
from scanner.result import ScanReport
from scanner.scan import run_scan
from scanner.settings import Settings

pytestmark = pytest.mark.usefixtures("fixed_key")

PASSWORD = "cache-test-pw-9"  # fake


def _report_signature(report: ScanReport) -> tuple[object, ...]:
    """Everything a user sees of a report, except timings and the per-layer cached/scanned status."""
    findings = sorted(
        (
            f.rule,
            f.severity,
            f.location,
            f.status,
            f.status_layer,
            f.fingerprint,
            f.excerpt,
            f.note,
            f.suppressed,
        )
        for f in report.findings
    )
    layers = [
        (
            la.index,
            la.digest,
            la.diff_id,
            la.files,
            la.bytes,
            la.whiteouts,
            la.problems,
            la.status == "unreadable",
        )
        for la in report.layers
    ]
    return (
        findings,
        layers,
        report.verdict,
        report.fail_on,
        report.severity,
        sorted(report.suppressions),
        report.warnings,
        report.known_secrets,
        report.metadata_scanned,
        report.ruleset_hash,
    )


def _netrc_findings(report: ScanReport) -> list[Finding]:
    return [f for f in report.findings if f.rule == "credential-file/netrc"]


def test_a_rule_disabled_in_one_scan_is_back_in_the_next_scan_from_the_same_cache(tmp_path: Path) -> None:
    """Issue 9: disabled-rules then no config, same cache: the netrc finding was gone (layer `cached`)."""
    target = tmp_path / "img.tar"
    write_image(tutorial_insecure(PASSWORD), target, "docker-archive")
    cache = tmp_path / "cache"
    disabled = run_scan(
        str(target), Settings(disabled_rules=frozenset({"credential-file/netrc"}), jobs=1, cache_dir=cache)
    )
    assert [f.suppressed for f in _netrc_findings(disabled)] == [
        "rule credential-file/netrc disabled in config"
    ]
    assert disabled.verdict == "clean"
    again = run_scan(str(target), Settings(jobs=1, cache_dir=cache))
    assert {la.status for la in again.layers} == {"cached"}
    assert [f.suppressed for f in _netrc_findings(again)] == [None]
    assert again.verdict == "findings"
    uncached = run_scan(str(target), Settings(jobs=1))
    assert _report_signature(again) == _report_signature(uncached)


@functools.cache
def _image(folder: str) -> Path:
    target = Path(folder) / "img.tar"
    write_image(tutorial_insecure(PASSWORD, compression="gzip"), target, "docker25-archive")
    return target


def _known(tmp: Path) -> tuple[KnownSecret, ...]:
    secret = tmp / "netrc-secret"
    secret.write_text(PASSWORD)
    return tuple(load_known_secrets([KnownSecretSpec("pw", "file", str(secret))]))


SETTINGS = st.builds(
    dict,
    disabled=st.sets(st.sampled_from(["credential-file/netrc", "sensitive-file/deleted", "known-secret"])),
    allow=st.booleans(),
    fail_on=st.sampled_from(list(Severity)),
    known=st.booleans(),
    small_window=st.booleans(),
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(SETTINGS, min_size=2, max_size=3))
def test_cached_and_uncached_scans_give_the_same_report_for_any_settings_sequence(
    tmp_path_factory: pytest.TempPathFactory, sequence: list[dict[str, object]]
) -> None:
    tmp = tmp_path_factory.mktemp("seq")
    target = _image(str(tmp_path_factory.getbasetemp()))
    known = _known(tmp)
    cache = tmp / "cache"
    for choice in sequence:
        s = Settings(
            limits=Limits(window=1 << 16) if choice["small_window"] else Limits(),
            known_secrets=known if choice["known"] else (),
            fail_on=choice["fail_on"],  # type: ignore[arg-type]
            disabled_rules=frozenset(choice["disabled"]),  # type: ignore[arg-type]
            allowlist=(AllowEntry("root/*", None, "accepted"),) if choice["allow"] else (),
            jobs=1,
        )
        cached = run_scan(str(target), replace(s, cache_dir=cache))
        fresh = run_scan(str(target), s)
        assert _report_signature(cached) == _report_signature(fresh)


def test_a_different_settings_key_reads_nothing(tmp_path: Path) -> None:
    target = tmp_path / "img.tar"
    write_image(tutorial_insecure(PASSWORD), target, "docker-archive")
    cache = tmp_path / "cache"
    run_scan(str(target), Settings(jobs=1, cache_dir=cache))
    other = run_scan(str(target), Settings(limits=Limits(max_depth=2), jobs=1, cache_dir=cache))
    assert {la.status for la in other.layers} == {"scanned"}


def test_an_oci_layout_reusing_a_cached_digest_for_other_bytes_gets_no_cached_result(tmp_path: Path) -> None:
    """Issue 14: the digest the image declares names the lookup nowhere; the bytes read do."""
    layout = tmp_path / "layout"
    write_image(tutorial_insecure(PASSWORD), layout, "oci-layout")
    cache = tmp_path / "cache"
    first = run_scan(str(layout), Settings(jobs=1, cache_dir=cache))
    assert _netrc_findings(first)
    (blob,) = [p for p in (layout / "blobs" / "sha256").iterdir() if PASSWORD.encode() in p.read_bytes()]
    blob.write_bytes(blob.read_bytes().replace(PASSWORD.encode(), b"x" * len(PASSWORD)))
    second = run_scan(str(layout), Settings(jobs=1, cache_dir=cache))
    changed = [la for la in second.layers if la.status != "cached"]
    assert [la.status for la in changed] == ["unreadable"]
    assert any("mismatch" in p.what for p in changed[0].problems)
    assert second.verdict == "inconclusive"


def _outcome() -> LayerOutcome:
    summary = LayerSummary(files=2, bytes=1024, whiteouts=["a/b"], diff_id="sha256:" + "1" * 64)
    summary.blob_digest = "sha256:" + "2" * 64
    summary.paths.extend([3, 1 << 63])
    summary.problems.append(Problem("layer 0", "a note", False))
    hit = Hit(
        "pattern/jwt", "app/x", "a.jar!b", 3, "ey*****", "f" * 32, Severity.LOW, "n", None, "m", None, True
    )
    return LayerOutcome(summary, [hit], {"app/x": Owner("md5", "d", "Debian package x")})


def test_every_record_survives_the_codec_and_a_wrong_shape_is_refused() -> None:
    outcome = _outcome()
    assert decode(LayerOutcome, json.loads(json.dumps(encode(outcome)))) == outcome
    finding = Finding("r", "metadata", Severity.HIGH, "t", Location("config", key="Env.X"), "e", "f", "fix")
    image = CachedImage(
        "sha256:" + "3" * 64,
        None,
        "linux/amd64",
        ("a:1",),
        (CachedLayer(0, None, "sha256:" + "1" * 64, "tar", 2, "sha256:" + "2" * 64),),
        (),
        ImageMetadata([finding], ["config.Env"], {0: "RUN x"}),
    )
    assert decode(CachedImage, json.loads(json.dumps(encode(image)))) == image
    bad = encode(outcome)
    bad["hits"][0]["line"] = "3"
    with pytest.raises(TypeError):
        decode(LayerOutcome, bad)
    bad = encode(outcome)
    bad["summary"]["extra"] = 1
    with pytest.raises(ValueError):
        decode(LayerOutcome, bad)


def test_only_complete_layers_are_stored_and_entries_answer_only_for_their_own_name(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path, "sha256:key")
    outcome = _outcome()
    cache.put_layer(outcome)
    got = cache.get_layer(outcome.summary.blob_digest)
    assert got is not None and got.cached and got.hits == outcome.hits
    assert ScanCache(tmp_path, "sha256:other").get_layer(outcome.summary.blob_digest) is None
    # an entry copied under another digest's file name is refused
    other = "sha256:" + "9" * 64
    src = tmp_path / cache._path("layers", outcome.summary.blob_digest)
    dst = tmp_path / cache._path("layers", other)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(src.read_text())
    assert cache.get_layer(other) is None
    partial = _outcome()
    partial.summary.blob_digest = "sha256:" + "4" * 64
    partial.summary.complete = False
    cache.put_layer(partial)
    assert cache.get_layer(partial.summary.blob_digest) is None


def test_a_fully_cached_daemon_image_is_answered_from_inspect_alone_with_policy_applied_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.sources
    import scanner.sources.daemon
    from scanner.sources.archive import open_archive

    target = tmp_path / "img.tar"
    write_image(tutorial_insecure(PASSWORD), target, "docker-archive")
    cache = tmp_path / "cache"
    # The daemon's save, played by an archive: the first run opens it; inspect knows nothing yet.
    saves: list[str] = []

    def save(self: object, ref: object, workdir: Path, platform: object, on_blob: object) -> object:
        saves.append(str(ref))
        return open_archive(target, workdir, "docker-daemon:fake/app:1")

    monkeypatch.setattr(scanner.sources.daemon.DaemonSource, "open", save)
    inspected: dict[str, str] = {}
    monkeypatch.setattr(scanner.sources.daemon, "inspect", lambda name: inspected)
    first = run_scan("docker-daemon:fake/app:1", Settings(jobs=1, cache_dir=cache))
    assert (cache / "images").is_dir() and len(saves) == 1
    inspected["Id"] = first.images[0].id  # the source's identity now names a fully cached image
    again = run_scan("docker-daemon:fake/app:1", Settings(jobs=1, cache_dir=cache))
    assert len(saves) == 1, "the source was opened: not answered from the cache"
    assert {la.status for la in again.layers} == {"cached"}
    assert _report_signature(again)[0] == _report_signature(first)[0]  # the same findings
    muted = run_scan(
        "docker-daemon:fake/app:1",
        Settings(disabled_rules=frozenset({"credential-file/netrc"}), jobs=1, cache_dir=cache),
    )
    assert len(saves) == 1
    assert [f.suppressed for f in _netrc_findings(muted)] == ["rule credential-file/netrc disabled in config"]


def test_a_cached_result_is_checked_against_the_digests_this_image_declares(tmp_path: Path) -> None:
    from scanner.image import Layer
    from scanner.scan import check_declared

    cached = _outcome().summary
    cached.problems = [Problem("layer 7 etc/x", "a note from the image the bytes were first read in", False)]
    same = Layer(2, cached.blob_digest, cached.diff_id, "tar", 1, None)
    check_declared(same, cached)
    assert cached.complete and [p.where for p in cached.problems] == ["layer 2 etc/x"]
    other = Layer(3, cached.blob_digest, "sha256:" + "5" * 64, "tar", 1, None)
    check_declared(other, cached)
    assert not cached.complete
    assert any(p.where == "layer 3" and "diff_id mismatch" in p.what for p in cached.problems)


def _cli(cwd: Path, *args: str) -> tuple[int, str]:
    """The command line in a subprocess, in `cwd` (where it looks for .imgscan.toml), with a layer cache."""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "scanner.cli", *args, "--cache-dir", "cache", "--no-progress", "-j", "1"]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout


def test_the_issue_9_reproduction_through_the_cli_keeps_the_netrc_finding(tmp_path: Path) -> None:
    """disabled-rules in .imgscan.toml with a cache dir, then the config removed, same cache: exit 1 again."""
    write_image(tutorial_insecure(PASSWORD), tmp_path / "img.tar", "docker-archive")
    config = tmp_path / ".imgscan.toml"
    config.write_text('disabled-rules = ["credential-file/netrc"]\n')
    assert _cli(tmp_path, "img.tar", "-q")[0] == 0
    config.unlink()
    code, out = _cli(tmp_path, "img.tar", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert {la["status"] for la in report["layers"]} == {"cached"}
    assert [f for f in report["findings"] if f["rule"] == "credential-file/netrc" and not f.get("suppressed")]


def test_the_bytes_are_hashed_for_a_lookup_only_when_a_result_could_exist(tmp_path: Path) -> None:
    from scanner.image import Layer
    from scanner.scan import worth_hashing

    cache = ScanCache(tmp_path, "sha256:key")
    outcome = _outcome()
    declared = Layer(0, outcome.summary.blob_digest, None, "tar", 1, None)
    assert not worth_hashing(cache, declared)  # cold: scanning reads the bytes once, not twice
    cache.put_layer(outcome)
    assert worth_hashing(cache, declared)
    assert worth_hashing(cache, replace(declared, digest=None))  # nothing declared: always hash


def test_an_fsspec_store_keeps_and_verifies_entries_like_a_directory(tmp_path: Path) -> None:
    """The fleet's shared store may be any fsspec URL: entries written under a temporary name then moved,
    read back whole, a torn or foreign entry ignored."""
    import fsspec

    from scanner.cache import ScanCache
    from scanner.model import LayerOutcome, LayerSummary

    url = f"memory://imgscan-test-{tmp_path.name}"
    store = ScanCache(url, "sha256:settings")
    outcome = LayerOutcome(LayerSummary(files=3, bytes=1024, blob_digest="sha256:" + "ab" * 32), [])
    assert store.get_layer(outcome.summary.blob_digest) is None
    store.put_layer(outcome)
    again = ScanCache(url, "sha256:settings").get_layer(outcome.summary.blob_digest)
    assert again is not None and again.summary.files == 3 and again.cached
    assert ScanCache(url, "sha256:other-settings").get_layer(outcome.summary.blob_digest) is None
    fs = fsspec.filesystem("memory")
    entries = [p for p in fs.find(url) if p.endswith(".json")]
    assert len(entries) == 1 and not [p for p in fs.find(url) if "/.tmp/" in p]
    fs.pipe_file(entries[0], b'{"schema": "torn')
    assert ScanCache(url, "sha256:settings").get_layer(outcome.summary.blob_digest) is None
