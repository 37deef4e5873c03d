"""Which `allow_hosts` entries name a public host: a dotted name under a public top-level domain, and
no `*.` pattern that covers a whole public suffix.

A single-label name (`intranet`, `vm`) resolves through the resolver's search list or `/etc/hosts`,
so it can reach a private address the IP checks never see. Names under reserved or private-use
top-level domains (RFC 2606, RFC 6761, and the usual intranet ones) are refused for the same reason.

`*.co.uk` or `*.github.io` would allow every site under that suffix. The full Public Suffix List is
large and changes; this module keeps a short built-in list of common multi-label suffixes (country
second levels and shared hosting platforms), documented in docs/agents.md. Every single label is
treated as a public suffix, so `*.com` is refused too.
"""

from __future__ import annotations

import re

RESERVED_TLDS = frozenset(
    {
        "test", "example", "invalid", "localhost", "local", "internal", "arpa",
        "lan", "home", "corp", "intranet", "private", "localdomain",
    }
)  # fmt: skip
# Common multi-label public suffixes (a subset of the Public Suffix List).
PUBLIC_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.nz", "org.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "co.kr", "or.kr",
        "com.br", "net.br", "org.br", "com.cn", "net.cn", "org.cn", "com.hk", "com.tw",
        "co.in", "net.in", "org.in", "co.za", "org.za", "com.mx", "com.ar", "com.tr",
        "com.sg", "com.my", "co.id", "co.il", "com.ua", "com.pl", "co.at", "or.at",
        "github.io", "gitlab.io", "pages.dev", "workers.dev", "herokuapp.com", "vercel.app",
        "netlify.app", "appspot.com", "web.app", "firebaseapp.com", "blogspot.com",
        "cloudfront.net", "amazonaws.com", "s3.amazonaws.com", "azurewebsites.net",
        "cloudapp.net", "onrender.com", "fly.dev", "repl.co", "glitch.me", "ngrok.io",
    }
)  # fmt: skip
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def is_public_suffix(name: str) -> bool:
    """A top-level domain, or one of the built-in multi-label public suffixes."""
    return "." not in name or name in PUBLIC_SUFFIXES


def allow_pattern_problem(pattern: str) -> str | None:
    """Why an `allow_hosts` name pattern (lower-case, no trailing dot) is refused, or None."""
    wildcard = pattern.startswith("*.")
    name = pattern[2:] if wildcard else pattern
    labels = name.split(".")
    if len(labels) < 2 and not wildcard:
        return f"{pattern!r} is a single-label name: use a dotted public host name"
    if not _TLD.match(labels[-1]) or labels[-1] in RESERVED_TLDS:
        return f"{pattern!r} is not under a public top-level domain"
    if is_public_suffix(name):
        if wildcard:
            return f"{pattern!r} covers the public suffix {name!r}: name the site's own domain"
        return f"{pattern!r} is a public suffix, not a host"
    return None
