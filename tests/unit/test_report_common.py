"""Shared report wording: masked history text, sizes, digests, verdict sentences."""

from __future__ import annotations

import secrets

import pytest

from scanner.model import Problem
from scanner.report import common
from tests.unit.report_sample import findings_report, plant


def test_build_argument_values_are_masked_but_the_command_is_kept() -> None:
    token = "ghp_" + secrets.token_hex(18)
    text = common.safe_created_by(f"RUN |2 TOKEN={token} USER=bob /bin/sh -c make TOKEN=$TOKEN")
    assert token not in text
    assert text == "RUN |2 TOKEN=ghp_***** USER=***** /bin/sh -c make TOKEN=$TOKEN"


def test_build_arguments_without_run_prefix_are_masked() -> None:
    text = common.safe_created_by("|1 PASSWORD=hunter2hunter2 /bin/sh -c ./install.sh")
    assert "hunter2" not in text and text.endswith("/bin/sh -c ./install.sh")


@pytest.mark.parametrize(
    "created_by",
    [
        "ENV API_KEY=sk_live_{v} MODE=prod",
        '/bin/sh -c #(nop)  ENV API_KEY="sk_live_{v}"',
        "/bin/sh -c #(nop)  ENV API_KEY sk_live_{v}",
        "ARG TOKEN=sk_live_{v}",
        "LABEL org.secret='sk_live_{v}'",
    ],
)
def test_env_arg_and_label_values_are_masked(created_by: str) -> None:
    value = secrets.token_hex(12)
    text = common.safe_created_by(created_by.format(v=value))
    assert value not in text
    assert "*****" in text


def test_history_line_drops_nop_noise_and_shortens() -> None:
    assert common.history_line('/bin/sh -c #(nop)  CMD ["sh"]') == 'CMD ["sh"]'
    assert common.history_line("RUN " + "x" * 200, 20) == "RUN " + "x" * 15 + "…"
    assert common.history_line(None) == "(no history entry)"


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_human_bytes_uses_binary_units(n: int, text: str) -> None:
    assert common.human_bytes(n) == text


def test_short_digest_keeps_the_algorithm() -> None:
    assert common.short_digest("sha256:" + "ab" * 32) == "sha256:abababababab"
    assert common.short_digest(None) == "-"


def test_inconclusive_sentence_counts_further_blocking_problems() -> None:
    report = findings_report(plant())
    report.verdict = "inconclusive"
    report.findings = []
    report.problems = [
        Problem("layer 1", "zstd frame is corrupt"),
        Problem("layer 3", "size limit of 2 GiB reached"),
        Problem("config.history", "mismatch", inconclusive=False),
    ]
    assert common.verdict_sentence(report) == (
        "INCONCLUSIVE — layer 1 could not be read in full: zstd frame is corrupt (and 1 more problem)"
    )


def test_findings_only_in_metadata_name_the_metadata_not_layers() -> None:
    report = findings_report(plant())
    report.findings = [f for f in report.findings if f.location.kind == "history"]
    assert common.findings_summary(report) == "1 finding at or above high in the history"
