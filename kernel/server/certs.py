"""The self-signed serving certificate: a CA and a serving cert in --cert-dir, reused on restart.

Made when --tls-cert-file is not given (kube's MaybeDefaultWithSelfSignedCerts). The serving
certificate is re-issued from the same CA when it expires within a day or no longer covers the
names it must (a new bind address or hostname), so kubeconfigs holding the CA stay valid.

Checking certificates that are already there needs only the standard library's ``ssl``;
``cryptography`` (its own OpenSSL, ~9 MB of RSS) is imported from ``kernel.server.certgen`` only
when something must be generated or re-issued.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import re
import socket
import ssl
from pathlib import Path

import msgspec

from kernel.server.certfiles import (CA_CERT, CA_KEY, CA_VALIDITY, RENEW_BEFORE, SERVING_CERT,  # noqa: F401
                                     SERVING_KEY, SERVING_VALIDITY)

log = logging.getLogger("kernel.server.certs")


class ServingCertificate(msgspec.Struct, frozen=True):
    cert_file: str
    key_file: str
    ca_file: str  # what clients should trust (written into kubeconfigs)


def serving_names(bind_address: str) -> tuple[list[str], list[str]]:
    """DNS names and IPs the serving certificate must cover."""
    dns = ["localhost", socket.gethostname()]
    ips = ["127.0.0.1", "::1"]
    if bind_address not in ("0.0.0.0", "::"):
        ips.append(bind_address)
    return sorted(set(dns)), sorted(set(ips), key=ips.index)


def _decode(path: Path) -> dict | None:
    """The first certificate of a PEM file as ``SSLSocket.getpeercert()`` shows it."""
    try:
        return ssl._ssl._test_decode_cert(str(path))  # the ssl module's own decoder (CPython)
    except (AttributeError, OSError, ssl.SSLError, ValueError):
        return None


# OpenSSL prints certificate times as "Jan  5 09:34:43 2028 GMT" (English months, always GMT).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _valid_until(cert: dict) -> datetime.datetime:
    # As ssl.cert_time_to_seconds reads it, without its time.strptime: that imports _strptime and
    # calendar, which a server reusing its certificates would keep for nothing.
    month, day, clock, year, zone = cert["notAfter"].split()
    if zone != "GMT" or month not in _MONTHS:
        raise ValueError(f"time data {cert['notAfter']!r} is not an OpenSSL certificate time")
    hour, minute, second = (int(part) for part in clock.split(":"))
    return datetime.datetime(int(year), _MONTHS.index(month) + 1, int(day), hour, minute, second,
                             tzinfo=datetime.timezone.utc)


def _key_matches(cert_file: Path, key_file: Path) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError, ValueError):
        return False
    return True


def _reusable(directory: Path, dns: list[str], ips: list[str]) -> bool:
    """The CA and the serving certificate are there, each with its key, the serving certificate
    issued by that CA, both valid for more than a day, and every name covered: then nothing is
    generated. Anything else goes to the full check in ``certgen``."""
    ca, serving = _decode(directory / CA_CERT), _decode(directory / SERVING_CERT)
    if ca is None or serving is None or serving["issuer"] != ca["subject"]:
        return False
    soon = datetime.datetime.now(datetime.timezone.utc) + RENEW_BEFORE
    try:
        if _valid_until(ca) < soon or _valid_until(serving) <= soon:
            return False
    except (KeyError, ValueError):
        return False
    sans = serving.get("subjectAltName", ())
    have_dns = {value for kind, value in sans if kind == "DNS"}
    try:
        have_ips = {ipaddress.ip_address(value) for kind, value in sans if kind == "IP Address"}
        want_ips = {ipaddress.ip_address(ip) for ip in ips}
    except ValueError:
        return False
    return (set(dns) <= have_dns and want_ips <= have_ips
            and _key_matches(directory / CA_CERT, directory / CA_KEY)
            and _key_matches(directory / SERVING_CERT, directory / SERVING_KEY))


def ensure_self_signed(cert_dir: str, bind_address: str) -> ServingCertificate:
    """Reuse or create the CA and the serving certificate in ``cert_dir``."""
    directory = Path(cert_dir)
    directory.mkdir(parents=True, exist_ok=True)
    dns, ips = serving_names(bind_address)
    if _reusable(directory, dns, ips):
        log.info("reusing the serving certificate in %s", directory)
    else:
        from kernel.server import certgen  # cryptography: only to make or re-issue certificates

        certgen.ensure(directory, dns, ips)
    return ServingCertificate(str(directory / SERVING_CERT), str(directory / SERVING_KEY),
                              str(directory / CA_CERT))


def from_files(cert_file: str, key_file: str) -> ServingCertificate:
    """A user-provided serving certificate; clients trust the last certificate of the chain."""
    return ServingCertificate(cert_file, key_file, cert_file)


_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s*.+?-----END CERTIFICATE-----", re.S)


def trust_anchor_pem(serving: ServingCertificate) -> bytes:
    """The PEM clients should trust: the CA file, or the last certificate of a given chain."""
    blocks = _PEM_CERTIFICATE.findall(Path(serving.ca_file).read_text("ascii", errors="replace"))
    if not blocks:
        raise ValueError(f"{serving.ca_file}: no PEM certificate found")
    # Re-encoded as cryptography writes PEM (64-column lines), whatever the file's wrapping.
    return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(blocks[-1])).encode("ascii")
