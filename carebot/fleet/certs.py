"""A fleet CA and certificates for trials, tests and the demo, made with openssl.

A real fleet keeps its CA key offline and issues each robot's certificate once; this is
the same shape on one machine: EC P-256 keys, the router's certificate names its hosts
(subjectAltName) because robots verify the name they connect to, each robot's common name
is ``<site>/<robot>`` (what the router's access control matches). Keys are written 0600.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from carebot.fleet.zenoh_config import TlsFiles, robot_subject

DAYS = 30


def _run(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise OSError(f"openssl {args[0]} failed: {proc.stderr.strip()[-300:]}")


def make_ca(folder: Path, name: str = "carebot fleet CA") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "ca.pem", folder / "ca.key"
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", str(DAYS), "-subj", f"/CN={name}")
    os.chmod(key, 0o600)
    return cert, key


def issue(folder: Path, ca: tuple[Path, Path], file_stem: str, common_name: str,
          hosts: list[str] = ()) -> TlsFiles:
    """A certificate for ``common_name`` signed by ``ca`` (cert, key); ``hosts`` go in subjectAltName."""
    key, csr, cert = folder / f"{file_stem}.key", folder / f"{file_stem}.csr", folder / f"{file_stem}.pem"
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
         "-out", str(csr), "-subj", "/CN=" + common_name.replace("/", "\\/"))
    os.chmod(key, 0o600)
    ext = folder / f"{file_stem}.ext"
    names = [f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts]
    ext.write_text("basicConstraints=CA:FALSE\n" + (f"subjectAltName={','.join(names)}\n" if names else ""))
    _run("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
         "-out", str(cert), "-days", str(DAYS), "-extfile", str(ext))
    csr.unlink()
    ext.unlink()
    return TlsFiles(str(ca[0]), str(cert), str(key))


def make_fleet_certs(folder: Path, robots: list[tuple[str, str]], hosts: list[str] = (),
                     views: list[str] = ()) -> dict[str, TlsFiles]:
    """CA + router (``localhost``, ``127.0.0.1`` and ``hosts``) + one per robot and view."""
    folder = Path(folder)
    ca = make_ca(folder)
    made = {"router": issue(folder, ca, "router", "carebot fleet router", ["localhost", "127.0.0.1", *hosts])}
    for site, robot in robots:
        made[f"{site}/{robot}"] = issue(folder, ca, f"{site}.{robot}", robot_subject(site, robot))
    for view in views:
        made[view] = issue(folder, ca, f"view.{view}", view, ["localhost", "127.0.0.1"])
    return made
