"""Issuers' token shapes beyond the well-known ones of the catalogue: each carries a literal it cannot
appear without, and one scan for all those literals comes first, since most lines hold none of them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# short names, as in the catalogue, keep the pattern lines short
from error_autopilot.redaction.pattern import AFTER_ESCAPE as _PCT
from error_autopilot.redaction.pattern import secret_pattern as _p

# issuers' token shapes, each with the literal it cannot appear without (tried only when that is present)
# fmt: off
_VENDOR: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"do[por]_v1_[a-f0-9]{64}", ("_v1_",)),
    (r"hv[sbr]\.[A-Za-z0-9_\-]{24,}", ("hvs.", "hvb.", "hvr.")),
    (r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", ("shp",)),
    (r"pypi-AgE[A-Za-z0-9_\-]{50,}", ("pypi-",)),
    (r"dckr_pat_[A-Za-z0-9_\-]{20,}", ("dckr_",)),
    (r"lin_(?:api|oauth)_[A-Za-z0-9]{32,}", ("lin_",)),
    (r"NR(?:AK|II)-[A-Za-z0-9_\-]{27,32}", ("NRAK-", "NRII-")),
    (r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("PMAK-",)),
    (r"AT[AC]TT3[A-Za-z0-9_\-=]{30,}", ("TT3",)),
    (r"SK[a-f0-9]{32}(?![A-Za-z0-9])", ("SK",)),
    (r"(?:pub)?key-[a-f0-9]{32}(?![A-Za-z0-9])", ("key-",)),
    (r"x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}", ("sib-",)),
    (r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
    (r"pul-[a-f0-9]{40}", ("pul-",)),
    (r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,}", ("atlasv1",)),
    (r"dp\.(?:st|pt|ct|sa|scim|audit)\.[A-Za-z0-9_\-.]{40,}", ("dp.",)),
    (r"sbp_[a-f0-9]{40}", ("sbp_",)),
    (r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.]{32,}", ("pscale_",)),
    (r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", ("pat",)),
    (r"(?:ntn_[A-Za-z0-9]{40,}|secret_[A-Za-z0-9]{43}(?![A-Za-z0-9]))", ("ntn_", "secret_")),
    (r"sntry[us]_[A-Za-z0-9_=+/.]{40,}", ("sntry",)),
    (r"bkua_[a-f0-9]{40}", ("bkua_",)),
    (r"gsk_[A-Za-z0-9]{48,}", ("gsk_",)),
    (r"r8_[A-Za-z0-9]{30,}", ("r8_",)),
    (r"tskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,}", ("tskey-",)),
    (r"CFPAT-[A-Za-z0-9_\-]{43}", ("CFPAT-",)),
    (r"EAAA[A-Za-z0-9_\-]{60,}", ("EAAA",)),
    (r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,}", ("sq0",)),
    (r"AGE-SECRET-KEY-1[0-9A-Z]{58}", ("AGE-SECRET-KEY-",)),
    (r"figd_[A-Za-z0-9_\-]{40,}", ("figd_",)),
    (r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}", ("glsa_",)),
    (r"(?:fo1_[A-Za-z0-9_\-]{43}|FlyV1 fm\d_[A-Za-z0-9+/=_\-]{40,})", ("fo1_", "FlyV1")),
    (r"ops_eyJ[A-Za-z0-9+/=_\-]{40,}", ("ops_eyJ",)),
    (r"(?:rnd_[A-Za-z0-9]{32}|vercel_[A-Za-z0-9]{24,}|nfp_[A-Za-z0-9]{36}|pnu_[A-Za-z0-9]{36})",
     ("rnd_", "vercel_", "nfp_", "pnu_")),
    (r"(?:sgp_[a-f0-9]{16}_[a-f0-9]{40}|tfp_[A-Za-z0-9_\-]{44,})", ("sgp_", "tfp_")),
    (r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9+/=]{100,}", ("IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE")),  # AWS session
    (r"[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{3}AZDO[A-Za-z0-9]{4}", ("AZDO",)),  # Azure DevOps
    (r"[A-Za-z0-9_\-.]{3}\dQ~[A-Za-z0-9_\-.~]{31,34}(?![A-Za-z0-9_~.\-])", ("Q~",)),  # Entra client secret
    (r"[a-f0-9]{36}NRAL", ("NRAL",)),  # New Relic license key
    (r"cf(?:ut|at|k)_[A-Za-z0-9]{40,50}", ("cfut_", "cfat_", "cfk_")),  # Cloudflare's scannable tokens
    (r"sb_secret_[A-Za-z0-9_\-]{20,}", ("sb_secret_",)),  # Supabase
    (r"rubygems_[a-f0-9]{48}", ("rubygems_",)),
    (r"sk\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,}", ("sk.eyJ",)),  # Mapbox secret
    (r"HRKU-[A-Za-z0-9_\-]{20,}", ("HRKU-",)),  # Heroku
    (r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}", ("access_token$",)),  # Braintree
    (r"LTAI[A-Za-z0-9]{20}(?![A-Za-z0-9])", ("LTAI",)),  # Alibaba Cloud
    (r"A{22}[A-Za-z0-9%]{30,}", ("AAAAAAAAAAAAAAAAAAAAA",)),  # X/Twitter app bearer
    (r"EAA[A-Za-z0-9]{90,}", ("EAA",)),  # Meta Graph API
    (r"sl\.[A-Za-z0-9_\-]{120,}", ("sl.",)),  # Dropbox
    (r"(?:AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9]{50,})", ("AKCp", "cmVmdGtu")),  # JFrog
    (r"ATBB[A-Za-z0-9_=.\-]{32,}", ("ATBB",)),  # Bitbucket
    # Honeycomb: every key the pattern takes starts `hca`/`hcx` (four named prefixes left `hcxak_…` unchecked)
    (r"hc[ax][a-z]{1,2}k_[A-Za-z0-9]{20,}", ("hca", "hcx")),
    (r"dt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}", ("dt0",)),  # Dynatrace
    (r"oy2[a-z0-9]{43}(?![A-Za-z0-9])", ("oy2",)),  # NuGet
    (r"(?:shippo|duffel)_(?:live|test)_[A-Za-z0-9_\-=]{32,}", ("shippo_", "duffel_")),
    (r"EZ[AT]K[a-z0-9]{54}", ("EZAK", "EZTK")),  # EasyPost
    (r"GOOG1[A-Z0-9]{56}", ("GOOG1",)),  # Google Cloud Storage HMAC
    (r"AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{100,}", ("APA91b",)),  # Firebase Cloud Messaging
    (r"napi_[a-z0-9]{60,}", ("napi_",)),  # Neon
    (r"access-(?:production|development|sandbox)-[a-f0-9]{8}-[a-f0-9\-]{27}", ("access-",)),  # Plaid
    (r"(?:pplx-[A-Za-z0-9]{40,}|xai-[A-Za-z0-9]{60,})", ("pplx-", "xai-")),  # Perplexity, xAI
    (r"(?:rdme_[a-z0-9]{60,}|CLOJARS_[a-z0-9]{60}|ico-[A-Za-z0-9]{32}|tk-us-[A-Za-z0-9_\-]{48})",
     ("rdme_", "CLOJARS_", "ico-", "tk-us-")),
    (r"pat\.[A-Za-z0-9_\-]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}", ("pat.",)),  # Harness
)
# fmt: on

_VENDOR_PATTERNS = tuple(
    _p("vendor-token", r"(?:(?<![A-Za-z0-9_\-.])|" + _PCT + ")(?:" + rx + ")", *hints) for rx, hints in _VENDOR
)


def _literal_trie(words: Iterable[str]) -> str:
    """A regex matching any of `words`, factored by common prefix: a flat alternation of ~100 literals is
    tried literal by literal at every position of every line, a trie branches once per character."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node:  # a word ends here: whatever longer word shares this prefix matches through it
            return ""
        alternatives = [re.escape(ch) + build(child) for ch, child in sorted(node.items())]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return build(trie)


VENDOR_HINTS = tuple(dict.fromkeys(h for _, hints in _VENDOR for h in hints))
_VENDOR_GATE = re.compile(_literal_trie(VENDOR_HINTS))


def redact_vendor_tokens(text: str) -> str:
    """The issuers' shapes of `_VENDOR`; one scan for all their literals first, since most lines have none."""
    if _VENDOR_GATE.search(text) is None:
        return text
    return substitute_vendor_tokens(text)


def substitute_vendor_tokens(text: str) -> str:
    """`redact_vendor_tokens` without its scan for `VENDOR_HINTS`: for a caller that has made it."""
    for pattern in _VENDOR_PATTERNS:
        text = pattern.apply(text)
    return text
