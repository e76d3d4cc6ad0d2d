"""Metadata strings from config/history/buildinfo/attestations, and the metadata credential rules."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import string
from typing import Any

import pytest

from scanner.detectors import DetectorConfig, DetectorSet, best_metadata_matches
from scanner.detectors.base import MetadataString, RawMatch
from scanner.detectors.known_values import KnownSecret
from scanner.detectors.metadata import metadata_areas, metadata_strings, run_build_args
from scanner.detectors.metadata_rules import MetadataCredentialDetector
from scanner.image import HistoryEntry, Image, MetadataDocument


def fake(prefix: str = "", n: int = 30) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def image(
    config: dict[str, Any] | None = None,
    history: tuple[HistoryEntry, ...] = (),
    docs: tuple[MetadataDocument, ...] = (),
) -> Image:
    return Image(
        "test:latest", "sha256:" + "0" * 64, None, None, "docker-archive", config or {}, (), history, docs
    )


def findings(img: Image) -> list[tuple[MetadataString, str, str]]:
    """(item, rule, matched text) for every match kept; asserts each span is the reported secret."""
    detector = MetadataCredentialDetector()
    pairs = [(item, m) for item in metadata_strings(img) for m in detector.scan_metadata(item)]
    for item, m in pairs:
        assert item.value[m.start : m.end] == m.secret
    return [(item, m.rule, m.secret) for item, m in best_metadata_matches(pairs)]


def test_run_build_arg_in_history_is_found_with_build_arg_key() -> None:
    tok = fake("ghp_", 36)
    row = HistoryEntry(3, f"RUN |1 GITHUB_TOKEN={tok} /bin/sh -c ./fetch.sh # buildkit", False, 1)
    [(item, rule, secret)] = findings(image(history=(row,)))
    assert (item.key, item.kind, item.history_index, item.layer_index) == (
        "build-arg:GITHUB_TOKEN",
        "history",
        3,
        1,
    )
    assert rule == "metadata/build-arg" and secret == tok


def test_classic_builder_arg_prefix_with_several_args() -> None:
    tok = fake()
    pairs, command_start = run_build_args(f"|2 VERSION=1.2 NPM_TOKEN={tok} /bin/sh -c npm ci")
    assert pairs == [("VERSION", "1.2"), ("NPM_TOKEN", tok)]
    assert f"|2 VERSION=1.2 NPM_TOKEN={tok} /bin/sh -c npm ci"[command_start:].strip().startswith("/bin/sh")


def test_env_and_label_tokens_in_config_are_found() -> None:
    env_tok, label_tok = fake(), fake()
    cfg = {
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin", f"API_TOKEN={env_tok}"],
            "Labels": {"com.example.deploy-token": label_tok, "org.opencontainers.image.title": "x"},
        }
    }
    got = {(item.key, rule, secret) for item, rule, secret in findings(image(cfg))}
    assert got == {
        ("Env.API_TOKEN", "metadata/env", env_tok),
        ("Labels.com.example.deploy-token", "metadata/label", label_tok),
    }


def test_env_path_and_public_key_ids_are_not_findings() -> None:
    cfg = {
        "config": {
            "Env": [
                "PATH=/usr/bin",
                "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
                "TOKEN_FILE=/run/secrets/token",
                "API_KEY=${API_KEY}",
                "AUTH=false",
            ]
        }
    }
    assert findings(image(cfg)) == []


def test_env_and_label_history_rows_are_found() -> None:
    pw, lab = fake(), fake()
    rows = (
        HistoryEntry(0, f"/bin/sh -c #(nop)  ENV DB_PASSWORD={pw}", True, None),
        HistoryEntry(1, f"LABEL api.secret={lab}", True, None),
        HistoryEntry(2, "ENV PATH=/usr/local/bin:/usr/bin", True, None),
    )
    got = {
        (item.key, item.history_index, rule, secret) for item, rule, secret in findings(image(history=rows))
    }
    assert got == {
        ("Env.DB_PASSWORD", 0, "metadata/env", pw),
        ("Labels.api.secret", 1, "metadata/label", lab),
    }


def test_buildinfo_base64_build_arg_is_found() -> None:
    tok = fake()
    info = {"frontend": "dockerfile.v0", "attrs": {"build-arg:NPM_TOKEN": tok, "build-arg:VERSION": "3"}}
    cfg = {"moby.buildkit.buildinfo.v0": base64.b64encode(json.dumps(info).encode()).decode()}
    [(item, rule, secret)] = findings(image(cfg))
    assert (item.key, rule, secret) == ("build-arg:NPM_TOKEN", "metadata/build-arg", tok)
    assert "buildinfo" in metadata_areas(image(cfg))


@pytest.mark.parametrize(
    "predicate",
    [
        {"invocation": {"parameters": {"args": {"build-arg:SECRET_KEY": "{s}"}}}},  # SLSA v0.2
        {"buildDefinition": {"externalParameters": {"request": {"args": {"build-arg:SECRET_KEY": "{s}"}}}}},
    ],
)
def test_attestation_build_arg_is_found(predicate: dict[str, Any]) -> None:
    tok = fake()
    data = json.loads(
        json.dumps({"predicateType": "https://slsa.dev/provenance", "predicate": predicate}).replace(
            "{s}", tok
        )
    )
    doc = MetadataDocument("attestation", "attestation sha256:ab", data)
    [(item, rule, secret)] = findings(image(docs=(doc,)))
    assert (item.kind, item.key, item.where, rule, secret) == (
        "attestation",
        "build-arg:SECRET_KEY",
        "attestation sha256:ab",
        "metadata/build-arg",
        tok,
    )
    assert "attestations" in metadata_areas(image(docs=(doc,)))


def test_attestation_llb_env_list_is_split_into_env_items() -> None:
    tok = fake()
    doc = MetadataDocument(
        "attestation",
        "a",
        {
            "predicate": {
                "buildConfig": {
                    "llbDefinition": [
                        {"op": {"Op": {"exec": {"meta": {"env": ["PATH=/bin", f"GH_TOKEN={tok}"]}}}}}
                    ]
                }
            }
        },
    )
    [(item, rule, secret)] = findings(image(docs=(doc,)))
    assert item.key.endswith("Env.GH_TOKEN") and rule == "metadata/env" and secret == tok


def test_url_with_credentials_anywhere_in_metadata() -> None:
    pw = fake()
    cfg = {"config": {"Env": [f"PIP_INDEX_URL=https://ci:{pw}@pypi.example.com/simple"]}}
    [(item, rule, secret)] = findings(image(cfg))
    assert (item.key, rule, secret) == ("Env.PIP_INDEX_URL", "metadata/url-credentials", pw)


def test_documentation_url_placeholder_is_not_a_finding() -> None:
    cfg = {"config": {"Labels": {"usage": "docker run -e DB=postgres://user:password@db/app img"}}}
    assert findings(image(cfg)) == []


def test_credentials_on_recorded_run_command_line() -> None:
    pw = fake()
    row = HistoryEntry(0, f"RUN /bin/sh -c mysql -uroot -p{pw} -e 'select 1'", False, 0)
    [(item, rule, secret)] = findings(image(history=(row,)))
    assert (item.key, rule, secret) == ("created_by", "metadata/history", pw)


def test_build_arg_is_not_reported_twice_through_created_by() -> None:
    tok = fake()
    row = HistoryEntry(0, f"RUN |1 API_TOKEN={tok} /bin/sh -c make", False, 0)
    assert [r for _, r, _ in findings(image(history=(row,)))] == ["metadata/build-arg"]


def test_secret_mount_paths_are_not_findings() -> None:
    row = HistoryEntry(0, "RUN |1 NPM_TOKEN_PATH=/run/secrets/npm /bin/sh -c npm ci", False, 0)
    cfg = {
        "config": {
            "Env": ["DB_PASSWORD=/run/secrets/db_password"],
            "Cmd": ["app", "--password-file=/run/secrets/p"],
        }
    }
    assert findings(image(cfg, history=(row,))) == []


def test_cmd_with_password_flag_is_a_config_finding() -> None:
    pw = fake()
    cfg = {"config": {"Cmd": ["server", f"--password={pw}"], "Entrypoint": ["/entry.sh"]}}
    [(item, rule, secret)] = findings(image(cfg))
    assert (item.key, rule, secret) == ("Cmd[1]", "metadata/config", pw)


def test_every_config_string_is_walked() -> None:
    cfg = {
        "author": "me",
        "config": {"Healthcheck": {"Test": ["CMD", "x"]}, "OnBuild": ["RUN y"], "User": "app"},
    }
    keys = {item.key for item in metadata_strings(image(cfg))}
    assert {"author", "Healthcheck.Test[0]", "Healthcheck.Test[1]", "OnBuild[0]", "User"} <= keys
    areas = metadata_areas(image(cfg))
    assert {"config.Env", "config.Labels", "config.Healthcheck", "config.OnBuild", "history"} <= set(areas)


# --- every byte of every document -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Doc:
    """A metadata document as a source hands it over, with the bytes it was parsed from."""

    area: str
    where: str
    data: Any
    raw: bytes


def _all_findings(img: Image, known: tuple[KnownSecret, ...] = ()) -> list[tuple[MetadataString, RawMatch]]:
    detectors = DetectorSet(DetectorConfig(known_secrets=known))
    pairs = [(item, m) for item in metadata_strings(img) for m in detectors.scan_metadata(item)]
    return best_metadata_matches(pairs, detectors.severities)


def test_tokens_in_label_keys_history_extras_and_rootfs_extras_are_found_in_the_raw_config() -> None:
    tokens = [fake("ghp_", 36) for _ in range(3)]
    cfg = {
        "config": {"Labels": {f"org.example.{tokens[0]}": "x"}},
        "history": [{"created_by": "RUN true", "x-comment": tokens[1]}],
        "rootfs": {"type": "layers", "diff_ids": [], "x-extra": tokens[2]},
    }
    found = {m.secret: (item.key, item.raw, m.rule) for item, m in _all_findings(image(cfg))}
    assert {t: found[t] for t in tokens} == {t: ("(document)", True, "pattern/github-token") for t in tokens}


def test_a_secret_seen_in_a_parsed_value_is_not_reported_again_from_the_raw_document() -> None:
    tok = fake("ghp_", 36)
    found = _all_findings(image({"config": {"Env": [f"GITHUB_TOKEN={tok}"]}}))
    assert [(item.key, item.raw, m.rule) for item, m in found] == [
        ("Env.GITHUB_TOKEN", False, "metadata/env")
    ]


def test_duplicate_json_keys_are_scanned_in_the_bytes_the_parser_dropped() -> None:
    tok = fake("ghp_", 36)
    raw = f'{{"config": {{"User": "{tok}", "User": "app"}}}}'.encode()
    doc = _Doc("config", "config sha256:00", json.loads(raw), raw)
    img = image(json.loads(raw), docs=(doc,))  # type: ignore[arg-type]
    assert [(item.where, m.secret) for item, m in _all_findings(img)] == [("config sha256:00", tok)]


def test_known_secret_in_an_env_entry_without_equals_sign_is_found() -> None:
    value = "kS9-fake-known-env-value-42"
    ks = KnownSecret(id="tok", values=(value,), fingerprint="f" * 32)
    found = _all_findings(image({"config": {"Env": ["PATH=/usr/bin", value]}}), (ks,))
    assert [(item.key, m.rule, m.secret) for item, m in found] == [("Env[1]", "known-secret", value)]
