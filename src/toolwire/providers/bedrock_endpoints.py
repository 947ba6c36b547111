"""Amazon Bedrock Runtime endpoints: the host of a region (by its partition's DNS suffix, as
botocore resolves it), and which hosts are AWS's own Bedrock Runtime endpoints (where a Bedrock API
key read from the environment may go). Stdlib only, imported with the provider."""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["dns_suffix", "is_bedrock_runtime_host"]

# botocore's partitions.json: the DNS suffix of each AWS partition, by region name prefix (checked
# in order: `us-isob-` before `us-iso-`); every other region is in `aws` or `aws-us-gov`
_PARTITION_SUFFIXES = (
    ("cn-", "amazonaws.com.cn"),
    ("eusc-", "amazonaws.eu"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
)
# ... and the dual-stack (IPv6) suffixes of the aws and aws-cn partitions
_DUAL_STACK = ("api.aws", "api.amazonwebservices.com.cn")
_AWS_SUFFIXES = "|".join(
    re.escape(s) for s in ("amazonaws.com", *(x for _, x in _PARTITION_SUFFIXES), *_DUAL_STACK)
)
# bedrock-runtime[-fips].{region}.{suffix}, and a VPC interface endpoint
# (vpce-….bedrock-runtime.{region}.vpce.{suffix})
_BEDROCK_HOST = re.compile(
    rf"(?:bedrock-runtime(?:-fips)?\.[a-z0-9-]+|[a-z0-9-]+\.bedrock-runtime\.[a-z0-9-]+\.vpce)\.(?:{_AWS_SUFFIXES})"
)


def dns_suffix(region: str) -> str:
    """The DNS suffix of the AWS partition a region is in (`amazonaws.com`, `amazonaws.com.cn`, ...)."""
    found = (suffix for prefix, suffix in _PARTITION_SUFFIXES if region.startswith(prefix))
    return next(found, "amazonaws.com")


def is_bedrock_runtime_host(url: str) -> bool:
    """Whether `url` is one of AWS's own Bedrock Runtime endpoints (where a Bedrock API key from
    the environment may go)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" and bool(_BEDROCK_HOST.fullmatch(parts.hostname or ""))
