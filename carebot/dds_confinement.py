"""Is this stack's DDS confined to the robot's own computer? (pure: no rclpy, no network)

Verified on the ros-jazzy PyPI wheels (Fast DDS 2.14.5, rmw_fastrtps 8.4) with two network
namespaces, the robot's and an intruder's (tests/integration/test_dds_confinement.py;
docs/security.md has the table):

- ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` alone does **not** confine: it only stops the
  robot announcing itself beyond loopback. Its sockets still listen on every interface,
  and an intruder that names the robot as a static peer (``ROS_STATIC_PEERS=<robot IP>``)
  moves the base, releases the e-stop and reads the camera.
- A Fast DDS profile whose UDP transport has an interface allow-list of ``127.0.0.1``,
  with the builtin transports off (only that UDP transport and shared memory), does: every
  socket is bound to loopback, and a packet for 127.0.0.1 arriving on another interface is
  dropped by the kernel (a "martian"). It holds whatever discovery range is set.

So the stack's profile (``config/fastdds_large_messages.xml``) is the confinement, and
this module checks the profile a stack is about to run with, and the rest of its DDS
environment, and says in words what is wrong. ``carebot up`` prints the findings.
"""
from __future__ import annotations

import ipaddress
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Mapping

PROFILE_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"
DOMAIN_VARIABLE = "ROS_DOMAIN_ID"
RMW_VARIABLE = "RMW_IMPLEMENTATION"
SECURITY_ENABLE_VARIABLE = "ROS_SECURITY_ENABLE"
SECURITY_STRATEGY_VARIABLE = "ROS_SECURITY_STRATEGY"
KEYSTORE_VARIABLE = "ROS_SECURITY_KEYSTORE"
FAST_DDS_RMW = "rmw_fastrtps_cpp"
# The files rcl's security layer looks for in each enclave folder (rmw_dds_common::get_security_files).
ENCLAVE_FILES = ("identity_ca.cert.pem", "cert.pem", "key.pem", "permissions_ca.cert.pem",
                 "governance.p7s", "permissions.p7s")
_NS = "{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}"
_NETWORK_TRANSPORTS = ("UDPv4", "UDPv6", "TCPv4", "TCPv6")


def _tag(element: ET.Element) -> str:
    return element.tag.replace(_NS, "")


def _child(element: ET.Element, *path: str) -> ET.Element | None:
    for name in path:
        found = next((c for c in element if _tag(c) == name), None)
        if found is None:
            return None
        element = found
    return element


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip()).is_loopback
    except ValueError:
        return address.strip() == "lo"      # Fast DDS also takes an interface name


def profile_problems(path: str | os.PathLike) -> list[str]:
    """Why a Fast DDS XML profile does not keep DDS on loopback (empty: it does).

    Confined means: the default participant profile turns the builtin transports off and
    lists only user transports that are shared memory or have an interface allow-list of
    loopback addresses only.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        return [f"cannot read the Fast DDS profile {path}: {exc}"]
    descriptors = {}
    for descriptor in root.iter():
        if _tag(descriptor) == "transport_descriptor":
            ident = _child(descriptor, "transport_id")
            if ident is not None and ident.text:
                descriptors[ident.text.strip()] = descriptor
    participants = [p for p in root.iter() if _tag(p) == "participant"]
    default = [p for p in participants if p.get("is_default_profile", "").lower() == "true"]
    if not default:
        return [f"{path}: no participant profile with is_default_profile=\"true\": ROS 2 nodes use Fast DDS's "
                "defaults (UDP on every interface)"]
    problems = []
    rtps = _child(default[0], "rtps")
    builtin = _child(rtps, "useBuiltinTransports") if rtps is not None else None
    if builtin is None or (builtin.text or "").strip().lower() != "false":
        problems.append(f"{path}: useBuiltinTransports is not false: Fast DDS adds UDP on every interface")
    users = _child(rtps, "userTransports") if rtps is not None else None
    ids = [(t.text or "").strip() for t in users] if users is not None else []
    if not ids:
        problems.append(f"{path}: no userTransports")
    for ident in ids:
        descriptor = descriptors.get(ident)
        if descriptor is None:
            problems.append(f"{path}: user transport {ident!r} has no transport_descriptor")
            continue
        kind = (_child(descriptor, "type").text or "").strip() if _child(descriptor, "type") is not None else ""
        if kind not in _NETWORK_TRANSPORTS:
            continue                         # SHM: cannot leave the computer
        allow = _child(descriptor, "interfaceWhiteList")
        addresses = [(a.text or "").strip() for a in allow] if allow is not None else []
        if not addresses:
            problems.append(f"{path}: transport {ident!r} ({kind}) has no interfaceWhiteList: it listens on "
                            "every interface")
        elif not all(_is_loopback(a) for a in addresses):
            outside = ", ".join(a for a in addresses if not _is_loopback(a))
            problems.append(f"{path}: transport {ident!r} ({kind}) is allowed beyond loopback: {outside}")
    return problems


# Domain when neither the site file nor ROS_DOMAIN_ID says one: not ROS's default 0, so the
# stack does not meet other ROS software on the same computer by accident.
DEFAULT_DOMAIN_ID = 42
SUPERVISOR_SECTION = "supervisor"
DOMAIN_PARAMETER = "ros_domain_id"


def site_domain_id(config_file: str | os.PathLike | None) -> int | None:
    """The ``supervisor: ros_domain_id`` of a site parameter file (None: the file does not say).

    Read by both starters (``carebot up``, bringup.launch.py) and by the tools that talk to
    a running stack; the value itself is checked by ``carebot config-check``.
    """
    import yaml

    if not config_file:
        return None
    try:
        data = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    for key, section in data.items():
        if str(key).rstrip("/").rsplit("/", 1)[-1] != SUPERVISOR_SECTION or not isinstance(section, dict):
            continue
        value = (section.get("ros__parameters") or {}).get(DOMAIN_PARAMETER)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def stack_environment(env: Mapping[str, str], config_file: str | os.PathLike | None = None) -> dict[str, str]:
    """The environment the stack (and a tool talking to it) runs in.

    ``env`` plus carebot's confining Fast DDS profile (unless the operator set one) and the
    site's ROS domain (unless ``ROS_DOMAIN_ID`` is set: tests and operators choose their
    own). SROS2 variables pass through unchanged.
    """
    from carebot.bringup import node_environment

    out = node_environment(env)
    if not out.get(DOMAIN_VARIABLE, "").strip():
        domain = site_domain_id(config_file)
        out[DOMAIN_VARIABLE] = str(DEFAULT_DOMAIN_ID if domain is None else domain)
    return out


def enclave_of(namespace: str, node: str) -> str:
    """The SROS2 enclave of a node: its fully qualified name (``/dashboard``, ``/carebot/dashboard``)."""
    return f"{namespace.rstrip('/')}/{node}"


def environment_findings(env: Mapping[str, str]) -> list[str]:
    """Warnings about the DDS environment a stack is about to start in (empty: confined).

    Covers the profile in use (an operator's own profile may open the stack), an RMW other
    than Fast DDS (the profile does not apply to it), and the default domain 0.
    """
    findings = []
    rmw = env.get(RMW_VARIABLE, "")
    if rmw and rmw != FAST_DDS_RMW:
        findings.append(f"{RMW_VARIABLE}={rmw}: carebot's confinement is a Fast DDS profile; confine {rmw} "
                        "to loopback yourself (docs/security.md)")
    profile = env.get(PROFILE_VARIABLE, "")
    if not profile:
        findings.append(f"{PROFILE_VARIABLE} is not set: Fast DDS talks on every interface")
    else:
        findings += profile_problems(profile)
    domain = env.get(DOMAIN_VARIABLE, "")
    if domain.strip() in ("", "0"):
        findings.append(f"{DOMAIN_VARIABLE} is {domain.strip() or 'unset'}: the stack shares ROS's default domain "
                        "with any other ROS software on this computer")
    return findings


def security_enabled(env: Mapping[str, str]) -> bool:
    """rcl's own test: SROS2 is on when ROS_SECURITY_ENABLE is exactly ``true``."""
    return env.get(SECURITY_ENABLE_VARIABLE, "") == "true"


def security_problems(env: Mapping[str, str], enclaves: list[str]) -> list[str]:
    """Why nodes with these enclaves cannot start under SROS2 as configured (empty: fine).

    Checked before anything starts, so ``carebot up`` can refuse with the commands that
    fix it instead of every node failing in turn.
    """
    if not security_enabled(env):
        return []
    problems = []
    available = dds_security_available()
    if available is False:
        problems.append("ROS_SECURITY_ENABLE=true, but this ROS 2 is the PyPI wheel set, whose Fast DDS is built "
                        "without the DDS Security plugins (no PKI-DH, no AES-GCM-GMAC): SROS2 needs a full ROS 2 "
                        "install (docs/security.md). Unset ROS_SECURITY_ENABLE: the stack is then confined to "
                        "this computer's loopback instead")
    keystore = env.get(KEYSTORE_VARIABLE, "")
    if not keystore:
        problems.append("ROS_SECURITY_ENABLE=true but ROS_SECURITY_KEYSTORE is not set "
                        "(ros2 security create_keystore DIR)")
        return problems
    for enclave in enclaves:
        folder = Path(keystore) / "enclaves" / enclave.strip("/")
        missing = [name for name in ENCLAVE_FILES if not (folder / name).is_file()]
        if missing:
            problems.append(f"enclave {enclave} is missing in {keystore} ({', '.join(missing)}): "
                            f"ros2 security create_enclave {keystore} {enclave}")
    return problems


def dds_security_available() -> bool | None:
    """Whether the rmw_fastrtps library in use was built with DDS Security (None: not found).

    Its security branch names the plugin properties (``dds.sec.auth.plugin``); a build
    without security has compiled that branch out and cannot load SROS2 keys.
    """
    for folder in _library_folders():
        library = folder / "librmw_fastrtps_shared_cpp.so"
        if library.is_file():
            try:
                return b"dds.sec.auth.plugin" in library.read_bytes()
            except OSError:
                return None
    return None


def _library_folders() -> list[Path]:
    folders = [Path(sys.prefix) / "lib"]
    folders += [Path(prefix) / "lib" for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if prefix]
    folders += [Path(p) for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    return folders
