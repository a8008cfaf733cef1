"""Helpers for the end-to-end tests: ``kernel serve`` on etcd3 as a subprocess, kubectl, and a CA
with etcd's serving certificate and a client certificate (for mTLS)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kernel_storage_etcd3.testing import TLSFiles

KERNEL = str(Path(sys.executable).with_name("kernel"))
KUBECTL = "/usr/bin/kubectl"


@dataclass
class Kernel:
    """A ``kernel serve`` subprocess that wrote its kubeconfig (and, unless told not to, is ready)."""

    process: subprocess.Popen[str]
    url: str
    token: str
    ca_file: str
    kubeconfig: str
    log_path: Path
    home: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"},
                            verify=ssl.create_default_context(cafile=self.ca_file), **kwargs)

    def kubectl(self, *args: str, check: bool = True, timeout: float = 30,
                ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(self.home), "KUBECACHEDIR": str(self.home / "cache")}
        result = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, *args],
                                capture_output=True, text=True, env=env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n"
                                 f"{result.stderr}\n{self.log()}")
        return result

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.client(timeout=5) as client:
            while client.get("/readyz").status_code != 200:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"kernel never became ready:\n{self.log()}")
                time.sleep(0.05)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def start_kernel(workdir: Path, *args: str) -> Kernel:
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig, log_path = workdir / "kubeconfig", workdir / "kernel.log"
    if kubeconfig.exists():
        kubeconfig.unlink()
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [KERNEL, "serve", "--secure-port=0", "--bind-address=127.0.0.1",
             f"--cert-dir={workdir / 'certs'}", f"--write-kubeconfig={kubeconfig}",
             "--storage-backend=etcd3", *args],
            stdout=log, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"kernel did not start:\n{log_path.read_text()}")
        time.sleep(0.02)
    text = kubeconfig.read_text()
    url = re.search(r'"server": "([^"]+)"', text).group(1)  # type: ignore[union-attr]
    token = re.search(r'"token": "([^"]+)"', text).group(1)  # type: ignore[union-attr]
    kernel = Kernel(process, url, token, str(workdir / "certs" / "ca.crt"), str(kubeconfig),
                    log_path, workdir / "home")
    kernel.wait_ready()
    return kernel


# -- certificates ------------------------------------------------------------------------------

def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[str, str]:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(path.with_suffix(".crt")), str(path.with_suffix(".key"))


def make_tls(directory: Path) -> TLSFiles:
    """A CA, a serving certificate for 127.0.0.1/localhost and a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("etcd-test-ca")).issuer_name(_name("etcd-test-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_file = directory / "ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return _write(directory / name, key, builder.sign(ca_key, hashes.SHA256()))

    server_cert, server_key = issue("server", ExtendedKeyUsageOID.SERVER_AUTH, [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    client_cert, client_key = issue("client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    return TLSFiles(str(ca_file), server_cert, server_key, client_cert, client_key)
