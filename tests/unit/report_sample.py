"""Hand-built ScanReports for report tests: deterministic apart from the planted secrets' random tails."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from scanner.detectors.base import Rule
from scanner.findings import Finding, Location, Severity, redact_text
from scanner.model import Problem
from scanner.result import ImageSummary, KnownSecretReport, LayerReport, ScanReport


@dataclass(frozen=True)
class Planted:
    """Fake secrets planted in the sample; their fixed prefixes keep redacted output (and goldens) stable."""

    netrc_password: str
    npm_token: str
    aws_secret: str
    github_token: str
    entropy_blob: str

    def all(self) -> list[str]:
        return [self.netrc_password, self.npm_token, self.aws_secret, self.github_token, self.entropy_blob]


def plant() -> Planted:
    def tail(n: int) -> str:
        return secrets.token_hex(n)[:n]

    return Planted(
        netrc_password="hunter" + tail(6),  # under 16 characters: redacted to the mask alone
        npm_token="npm_" + tail(36),
        aws_secret="FAKEaws" + tail(33),
        github_token="ghp_" + tail(36),
        entropy_blob="Zm9v" + tail(44),
    )


def _digest(char: str) -> str:
    return "sha256:" + char * 64


RULES = [
    Rule(
        "sensitive-file/deleted",
        "sensitive-file",
        Severity.INFO,
        "Sensitive file deleted by a whiteout",
        "A later layer deleted a credential file; the earlier layer still holds it.",
        "Use RUN --mount=type=secret so the file never lands.",
    ),
    Rule(
        "credential-file/netrc",
        "sensitive-file",
        Severity.CRITICAL,
        ".netrc credential file",
        "A .netrc holds machine logins and passwords in clear.",
        "Use RUN --mount=type=secret for .netrc.",
    ),
    Rule(
        "known-secret",
        "known-secret",
        Severity.CRITICAL,
        "Known build secret found",
        "A value handed in with --secret appears in the image.",
        "Pass the secret with RUN --mount=type=secret, never COPY it.",
    ),
    Rule(
        "metadata/build-arg",
        "metadata",
        Severity.HIGH,
        "Secret in a build argument",
        "Build arguments are recorded in the image history.",
        "Use a secret mount instead of ARG.",
    ),
    Rule(
        "pattern/aws-secret-key",
        "credential",
        Severity.HIGH,
        "AWS secret access key",
        "An AWS secret access key gives API access.",
        "Rotate the key; inject it at run time.",
    ),
    Rule(
        "pattern/github-token",
        "credential",
        Severity.HIGH,
        "GitHub token",
        "A GitHub personal access token.",
        "Revoke the token; use a secret mount.",
    ),
    Rule(
        "entropy/base64",
        "entropy",
        Severity.LOW,
        "High-entropy base64 string",
        "A long random-looking string may be a credential.",
        "Check the value; allowlist it if harmless.",
    ),
    Rule(
        "sensitive-file/private-key",
        "sensitive-file",
        Severity.MEDIUM,
        "Private key file",
        "A PEM private key.",
        "Generate keys at run time or mount them.",
    ),
]
_RULES = {r.id: r for r in RULES}


def _finding(rule: str, location: Location, excerpt: str, fingerprint: str, **kw: object) -> Finding:
    r = _RULES[rule]
    return Finding(
        rule=rule,
        category=r.category,
        severity=kw.pop("severity", r.severity),  # type: ignore[arg-type]
        title=r.title,
        location=location,
        excerpt=excerpt,
        fingerprint=fingerprint,
        remediation=r.remediation,
        **kw,  # type: ignore[arg-type]
    )


def findings_report(p: Planted) -> ScanReport:
    """Four layers, seven findings of every status, suppressions, known secrets, a non-blocking problem."""
    image = ImageSummary(
        reference="registry.example/app:1.4",
        id=_digest("a"),
        digest=_digest("b"),
        platform="linux/amd64",
        format="docker25-archive",
        repo_tags=("registry.example/app:1.4",),
    )
    layers = [
        LayerReport(
            0,
            0,
            _digest("c"),
            _digest("0"),
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "/bin/sh -c #(nop) ADD file:4f2b1c in / ",
            0,
            files=1203,
            bytes=5_872_640,
        ),
        LayerReport(
            0,
            1,
            _digest("d"),
            _digest("1"),
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "COPY netrc /root/.netrc # buildkit",
            2,
            files=1,
            bytes=1536,
        ),
        LayerReport(
            0,
            2,
            _digest("e"),
            _digest("2"),
            "application/vnd.oci.image.layer.v1.tar+gzip",
            f"RUN |1 NPM_TOKEN={p.npm_token} /bin/sh -c rm /root/.netrc && npm ci",
            3,
            files=812,
            bytes=3_145_728,
            whiteouts=["root/.netrc"],
        ),
        LayerReport(
            0,
            3,
            _digest("f"),
            _digest("3"),
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "COPY app.jar config.yml /app/ # buildkit",
            5,
            files=2,
            bytes=20_480_000,
            nested_archives=1,
        ),
    ]
    netrc_line = f"machine git.example.com login deploy password {p.netrc_password}"
    findings = [
        _finding(
            "pattern/github-token",
            Location("layer", 0, 0, "opt/tool/.env", line=1),
            redact_text(f"GITHUB_TOKEN={p.github_token}", [p.github_token]),
            "f" * 32,
            status="overwritten",
            status_layer=3,
        ),
        _finding(
            "sensitive-file/private-key",
            Location("layer", 0, 0, "etc/ssl/private/test.pem"),
            "-----BEGIN PRIVATE KEY----- *****",
            "e" * 32,
            note="unmodified file of package ssl-cert",
            suppressed="snake-oil test key shipped by the distribution (allowlist: etc/ssl/private/*)",
        ),
        _finding(
            "credential-file/netrc",
            Location("layer", 0, 1, "root/.netrc", line=1),
            redact_text(netrc_line, [p.netrc_password]),
            "a" * 32,
            status="deleted",
            status_layer=2,
        ),
        _finding(
            "known-secret",
            Location("layer", 0, 1, "root/.netrc", line=1),
            redact_text(netrc_line, [p.netrc_password]),
            "b" * 32,
            status="deleted",
            status_layer=2,
            known_secret_id="netrc",
        ),
        _finding(
            "sensitive-file/deleted",
            Location("layer", 0, 2, "root/.netrc"),
            "",
            "8" * 32,
            note="root/.netrc (netrc) deleted in layer 2",
        ),
        _finding(
            "metadata/build-arg",
            Location("history", 0, 2, history_index=3, key="build-arg:NPM_TOKEN"),
            redact_text(f"NPM_TOKEN={p.npm_token}", [p.npm_token]),
            "c" * 32,
        ),
        _finding(
            "pattern/aws-secret-key",
            Location("layer", 0, 3, "app/app.jar", "BOOT-INF/classes/application.properties", line=7),
            redact_text(f"aws.secret-key={p.aws_secret}", [p.aws_secret]),
            "d" * 32,
        ),
        _finding(
            "entropy/base64",
            Location("layer", 0, 3, "app/config.yml", line=3),
            redact_text(f"seed: {p.entropy_blob}", [p.entropy_blob]),
            "9" * 32,
        ),
    ]
    return ScanReport(
        tool_version="0.1.0",
        ruleset_hash="r" * 16,
        reference="registry.example/app:1.4",
        images=[image],
        layers=layers,
        metadata_scanned=["config.Env", "config.Labels", "config.Cmd", "history", "attestations"],
        known_secrets=[
            KnownSecretReport("netrc", 3, "1" * 32, True),
            KnownSecretReport(
                "npm", 1, "2" * 32, False, ("the value is 8 characters: short values may match by chance",)
            ),
        ],
        findings=findings,
        problems=[Problem("config.history", "history names 5 non-empty rows for 4 layers", False)],
        rules=list(RULES),
        fail_on="high",
        verdict="findings",
        scanned_at="2026-01-02T03:04:05Z",
        duration_s=12.5,
        suppressions=[
            "suppressed sensitive-file/private-key at layer 0: /etc/ssl/private/test.pem: "
            "snake-oil test key shipped by the distribution (allowlist: etc/ssl/private/*)"
        ],
    )


def clean_report(p: Planted) -> ScanReport:
    """The same image with nothing at or above the gate: one low finding left, no suppressions."""
    report = findings_report(p)
    low = [f for f in report.findings if f.rule == "entropy/base64"]
    return replace(
        report,
        findings=low,
        problems=[],
        suppressions=[],
        verdict="clean",
        known_secrets=[replace(k, found=False) for k in report.known_secrets],
    )


def empty_clean_report(p: Planted) -> ScanReport:
    return replace(clean_report(p), findings=[], known_secrets=[])


def inconclusive_report(p: Planted) -> ScanReport:
    """Layer 2 could not be read in full; one finding at the gate elsewhere."""
    report = findings_report(p)
    layers = list(report.layers)
    layers[2] = replace(
        layers[2],
        status="unreadable",
        problems=[Problem("layer 2", "gzip stream ends early after 1.2 MiB (truncated blob)", True)],
    )
    findings = [f for f in report.findings if f.rule == "pattern/aws-secret-key"]
    return replace(
        report,
        layers=layers,
        findings=findings,
        problems=[*report.problems, *layers[2].problems],
        suppressions=[],
        verdict="inconclusive",
    )


def multi_image_report(p: Planted) -> ScanReport:
    """Two platforms of one reference; the second has one layer and no findings."""
    report = findings_report(p)
    arm = ImageSummary(
        "registry.example/app:1.4", _digest("7"), _digest("8"), "linux/arm64", "docker25-archive"
    )
    extra = LayerReport(
        1,
        0,
        _digest("9"),
        _digest("4"),
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "ADD file:77aa in /",
        0,
        files=900,
        bytes=4_000_000,
    )
    return replace(report, images=[*report.images, arm], layers=[*report.layers, extra])
