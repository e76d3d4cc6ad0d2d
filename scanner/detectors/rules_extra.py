"""Pattern rules that detect-secrets lacks, as data: confirming regex, prefilter patterns, severity, texts."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.findings import Severity


@dataclass(frozen=True)
class ExtraRule:
    """One token format. `regex` confirms on a candidate line; its group "secret" (else group 0) is the value.

    `prefilter` holds patterns in the syntax common to Hyperscan and Python `re` (no lookarounds, bounded
    repeats at the end) whose matches are a superset of `regex`'s, so a line without one cannot match.
    """

    id: str
    title: str
    regex: str
    prefilter: tuple[str, ...]
    severity: Severity
    help: str
    remediation: str
    caseless: bool = False  # for the prefilter and the confirming regex alike
    check: str | None = None  # a named extra check in patterns.py: "jwt", "url-password"


_ROTATE = "Revoke the token, issue a new one, and pass it at build time with RUN --mount=type=secret."

EXTRA_RULES: tuple[ExtraRule, ...] = (
    ExtraRule(
        id="pattern/github-fine-grained-token",
        title="GitHub fine-grained personal access token",
        regex=r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9])",
        prefilter=("github_pat_",),
        severity=Severity.HIGH,
        help="A GitHub fine-grained personal access token grants the repository access its owner chose.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/npm-token",
        title="npm access token",
        regex=r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])",
        prefilter=("npm_[A-Za-z0-9]{36}",),
        severity=Severity.HIGH,
        help="An npm granular or classic access token can publish packages as its owner.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/slack-app-token",
        title="Slack app-level token",
        regex=r"xapp-[0-9]-[A-Z0-9]{6,16}-[0-9]{6,16}-[a-z0-9]{32,80}",
        prefilter=("xapp-[0-9]-",),
        severity=Severity.HIGH,
        help="A Slack app-level token connects to a workspace as the app.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/openai-project-key",
        title="OpenAI API key",
        regex=r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}(?![A-Za-z0-9_-])"
        r"|(?<![A-Za-z0-9_-])sk-[A-Za-z0-9]{48}(?![A-Za-z0-9_-])",
        prefilter=("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-[A-Za-z0-9]{48}"),
        severity=Severity.HIGH,
        help="An OpenAI API key bills usage to its organisation.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/anthropic-key",
        title="Anthropic API key",
        regex=r"sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_-]{80,200}(?![A-Za-z0-9_-])",
        prefilter=("sk-ant-",),
        severity=Severity.HIGH,
        help="An Anthropic API key bills usage to its organisation.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/huggingface-token",
        title="Hugging Face access token",
        regex=r"(?<![A-Za-z0-9_])hf_[A-Za-z]{34}(?![A-Za-z0-9])",
        prefilter=("hf_[A-Za-z]{34}",),
        severity=Severity.HIGH,
        help="A Hugging Face token reads (or writes) its owner's models, data sets and spaces.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/shopify-token",
        title="Shopify access token or shared secret",
        regex=r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}(?![A-Za-z0-9])",
        prefilter=("shpat_", "shpss_", "shpca_", "shppa_"),
        severity=Severity.HIGH,
        help="A Shopify admin/custom-app access token or app shared secret acts on a shop.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/twilio-auth-token",
        title="Twilio auth token",
        regex=r"twilio[\w.-]{0,20}(?:auth|token|secret)[\w.-]{0,10}['\"]?[ \t]*[:=][ \t]*['\"]?"
        r"(?P<secret>[a-f0-9]{32})(?![a-f0-9])",
        prefilter=("twilio",),
        caseless=True,
        severity=Severity.HIGH,
        help="A Twilio auth token, next to its account SID, is full API access to the account.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/google-api-key",
        title="Google API key",
        regex=r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])",
        prefilter=("AIza[0-9A-Za-z_-]{35}",),
        severity=Severity.HIGH,
        help="A Google Cloud / Maps / Firebase API key; what it can do depends on its restrictions.",
        remediation=_ROTATE,
    ),
    ExtraRule(
        id="pattern/aws-secret-access-key",
        title="AWS secret access key",
        regex=r"aws_?secret_?access_?key['\"]?[ \t]*[:=][ \t]*['\"]?"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
        prefilter=("secret_?access_?key",),
        caseless=True,
        severity=Severity.HIGH,
        help="An AWS secret access key signs API requests as its IAM user.",
        remediation="Deactivate the key in IAM, create a new one; use a build secret or an instance role.",
    ),
    ExtraRule(
        id="pattern/url-credentials",
        title="Password in a connection URL",
        regex=r"(?<![A-Za-z0-9+.-])(?:https?|postgres(?:ql)?|mysql|mongodb(?:\+srv)?|rediss?|amqps?)://"
        r"[^\s:@/?#'\"]{1,256}:(?P<secret>[^\s@/?#'\"]{1,256})@[A-Za-z0-9.\[\]_-]",
        prefilter=("://[^ \t\r\n:@/?#'\"]{1,256}:[^ \t\r\n@/?#'\"]{1,256}@",),
        caseless=True,
        severity=Severity.HIGH,
        help="A URL that carries user:password for a web, database or message-broker server.",
        remediation="Change the password and pass the URL at run time (environment or a secret mount).",
        check="url-password",
    ),
)
