"""Helpers for test_binding.py, written from RFC 9449, RFC 8705, RFC 9440 and RFC 7638 alone:
DPoP proofs signed here with pyca/cryptography, JWK thumbprints computed by hand, a
small X.509 CA, `tessera serve` over TLS, and a parser for `WWW-Authenticate`."""

import base64
import datetime
import hashlib
import http.client
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc.jwk import ECKey, OKPKey, RSAKey

from conftest import BIN, Server, free_port, read_log

# Servers whose subject is not the throttle run without it (docs/endpoints.md "Failed client
# authentication"), so that refusals under test are not masked by 429s.
NO_THROTTLE = ("--auth-failure-limit", "0", "--auth-address-failure-limit", "0")


# MARK: encodings


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_header(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[0]))


def jwt_payload(token: str) -> dict:
    """The claims of a compact JWS, unverified: the tests read what the issuer wrote."""
    return json.loads(b64url_decode(token.split(".")[1]))


# RFC 7638 §3.2: the required members of each key type, in lexicographic order.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 §3: SHA-256 over the required members as JSON without whitespace, sorted."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def access_token_hash(token: str) -> str:
    """RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the token's ASCII octets."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


# MARK: DPoP keys and proofs

# RFC 9449 §5.1's `dpop_signing_alg_values_supported`, as the contract lists them.
DPOP_ALGS = ("ES256", "EdDSA", "RS256", "PS256")


class ProofKey:
    """A client's DPoP key pair for one JWS algorithm: made by joserfc, used through its
    pyca/cryptography key, so that every byte of a proof is under the test's control."""

    def __init__(self, alg: str = "ES256"):
        self.alg = alg
        if alg == "ES256":
            self.jose = ECKey.generate_key("P-256")
        elif alg == "ES384":
            self.jose = ECKey.generate_key("P-384")
        elif alg == "EdDSA":
            self.jose = OKPKey.generate_key("Ed25519")
        elif alg in ("RS256", "PS256"):
            self.jose = RSAKey.generate_key(2048)
        else:
            raise ValueError(alg)
        self.public_jwk = dict(self.jose.as_dict(private=False))
        self.private_jwk = dict(self.jose.as_dict(private=True))
        self.thumbprint = jwk_thumbprint(self.public_jwk)

    def sign(self, data: bytes) -> bytes:
        """RFC 7518 §3: the signature of `data` under this key's algorithm."""
        key = self.jose.private_key
        if self.alg in ("ES256", "ES384"):
            digest, size = (hashes.SHA256(), 32) if self.alg == "ES256" else (hashes.SHA384(), 48)
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if self.alg == "EdDSA":
            return key.sign(data)
        if self.alg == "RS256":
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())


# A member to leave out of a proof's header or claims.
OMIT = object()


def compact(header: dict, claims: dict, sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS (RFC 7515 §7.1) of `claims` under `header`, signed by `sign`."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing_input + "." + b64url(sign(signing_input.encode()))


def proof(
    key: ProofKey,
    htm: str,
    htu: str,
    *,
    token: str | None = None,
    nonce: str | None = None,
    iat: int | None = None,
    header: dict | None = None,
    claims: dict | None = None,
    sign: Callable[[bytes], bytes] | None = None,
) -> str:
    """An RFC 9449 §4.2 proof for `htm` `htu` made with `key`: `typ` dpop+jwt, the key's
    `alg` and public `jwk`, a fresh `jti`, `iat` now, `ath` of `token` when given, `nonce`
    when given. `header` and `claims` replace members (OMIT removes one); `sign` signs
    instead of `key` (another key, HMAC, nothing)."""
    protected = {"typ": "dpop+jwt", "alg": key.alg, "jwk": key.public_jwk}
    body = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time()) if iat is None else iat}
    if token is not None:
        body["ath"] = access_token_hash(token)
    if nonce is not None:
        body["nonce"] = nonce
    for target, changes in ((protected, header or {}), (body, claims or {})):
        for name, value in changes.items():
            if value is OMIT:
                target.pop(name, None)
            else:
                target[name] = value
    return compact(protected, body, sign or key.sign)


# MARK: HTTP


def post_with_headers(url: str, form: dict, headers: list[tuple[str, str]], timeout: float = 10) -> tuple[int, dict, dict]:
    """A form POST over plain HTTP whose header fields are sent as listed, repeated names
    included (requests merges them); answers the status, the headers (lower-cased names)
    and the JSON body."""
    parts = urllib.parse.urlsplit(url)
    body = urllib.parse.urlencode(form)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.putrequest("POST", parts.path or "/")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(len(body)))
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body.encode())
        response = connection.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else {}
    finally:
        connection.close()


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*({_TOKEN}|{_QUOTED})\s*(?:,|$)")
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|\s*,|\s*$)")


def challenges(header: str) -> dict[str, dict[str, str]]:
    """RFC 9110 §11.6.1 `WWW-Authenticate`: each challenge's scheme (lower-cased) with its
    auth-params (names lower-cased, quoted values unquoted)."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    position = 0
    while position < len(header.rstrip()):
        param = _PARAM.match(header, position)
        if param and current is not None:
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            current[param.group(1).lower()] = value
            position = param.end()
            continue
        scheme = _SCHEME.match(header, position)
        if not scheme or scheme.end() == position:
            raise ValueError(f"not a WWW-Authenticate value: {header!r}")
        current = found.setdefault(scheme.group(1).lower(), {})
        position = scheme.end()
    return found


def client_cert_field(der: bytes) -> str:
    """RFC 9440 §2.2: a certificate as a structured-field byte sequence (RFC 8941 §3.3.5)."""
    return ":" + base64.b64encode(der).decode() + ":"


# MARK: certificates


def x5t_s256(der: bytes) -> str:
    """RFC 8705 §3.1 `x5t#S256`: base64url of the SHA-256 of the certificate's DER."""
    return b64url(hashlib.sha256(der).digest())


def dn(*parts: tuple) -> x509.Name:
    """An X.509 name from (OID, value) pairs, most significant first (C, O, …, CN)."""
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


@dataclass
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: object

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def x5t(self) -> str:
        return x5t_s256(self.der)

    @property
    def serial(self) -> int:
        return self.cert.serial_number

    def key_pem(self, form: str = "pkcs8") -> bytes:
        """The private key as PKCS#8, or as SEC1 / PKCS#1 ("traditional")."""
        encoding = serialization.PrivateFormat.PKCS8 if form == "pkcs8" else serialization.PrivateFormat.TraditionalOpenSSL
        return self.key.private_bytes(serialization.Encoding.PEM, encoding, serialization.NoEncryption())

    def write(self, directory: str, name: str, chain: tuple["Issued", ...] = (), key_form: str = "pkcs8") -> tuple[str, str]:
        """Writes NAME.pem (this certificate, then `chain`) and NAME-key.pem, each replaced
        atomically; answers their paths."""
        cert_path, key_path = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}-key.pem")
        replace_file(cert_path, self.pem + b"".join(link.pem for link in chain))
        replace_file(key_path, self.key_pem(key_form))
        return cert_path, key_path


def replace_file(path: str, content: bytes) -> None:
    """Writes `content` to `path` through a rename, as cert-manager and certbot do."""
    temporary = path + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(content)
    os.replace(temporary, path)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def make_ca(common_name: str, parent: Issued | None = None) -> Issued:
    """A root CA, or an intermediate under `parent`."""
    key = ec_key()
    subject = dn((NameOID.ORGANIZATION_NAME, "Tessera interop"), (NameOID.COMMON_NAME, common_name))
    issuer_name, signer = (subject, key) if parent is None else (parent.cert.subject, parent.key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if parent is None else 0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if parent is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False
        )
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def _leaf(subject: x509.Name, issuer_name: x509.Name, signer, key, usage, sans: list, serial: int | None,
          not_before: datetime.datetime | None, not_after: datetime.datetime | None, authority=None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before or _now() - datetime.timedelta(minutes=5))
        .not_valid_after(not_after or _now() + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if authority is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority), critical=False)
    return builder.sign(signer, hashes.SHA256())


def server_cert(ca: Issued, *, serial: int | None = None, key=None) -> Issued:
    """A TLS server certificate for 127.0.0.1 and localhost."""
    key = key or ec_key()
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    subject = dn((NameOID.ORGANIZATION_NAME, "Tessera interop"), (NameOID.COMMON_NAME, "localhost"))
    cert = _leaf(subject, ca.cert.subject, ca.key, key, [ExtendedKeyUsageOID.SERVER_AUTH], sans, serial, None, None,
                 ca.key.public_key())
    return Issued(cert, key)


def client_cert(
    ca: Issued,
    subject: x509.Name,
    *,
    dns: tuple[str, ...] = (),
    uris: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> Issued:

    """A TLS client certificate issued by `ca`, with the subject alternative names given."""
    key = ec_key()
    sans = [x509.DNSName(name) for name in dns] + [x509.UniformResourceIdentifier(uri) for uri in uris]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips] + [x509.RFC822Name(email) for email in emails]
    cert = _leaf(subject, ca.cert.subject, ca.key, key, [ExtendedKeyUsageOID.CLIENT_AUTH], sans, None, not_before,
                 not_after, ca.key.public_key())
    return Issued(cert, key)


def self_signed_cert(subject: x509.Name, key=None) -> Issued:
    """A client certificate signed by its own key (RFC 8705 §2.2)."""
    key = key or ec_key()
    return Issued(_leaf(subject, subject, key, key, [ExtendedKeyUsageOID.CLIENT_AUTH], [], None, None, None), key)


def public_jwk(private_key, kid: str) -> dict:
    """The public half of a pyca/cryptography EC key as a JWK with `kid`, via joserfc."""
    return dict(ECKey.import_key(private_key.public_key()).as_dict(private=False), kid=kid)


# MARK: TLS servers


@dataclass
class TLSServer(Server):
    """A `tessera serve` listening with TLS; `ca_file` verifies its certificate."""

    ca_file: str = ""

    def token(self, client_id: str, secret: str, **form: str) -> dict:
        response = requests.post(
            self.issuer + "/oauth2/token", data={"grant_type": "client_credentials", **form},
            auth=(client_id, secret), verify=self.ca_file, timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def create_account(self, admin: dict, tenant: str = "acme", **body) -> dict:
        token = self.token(admin["client_id"], admin["client_secret"])["access_token"]
        response = requests.post(
            f"{self.issuer}/v1/tenants/{tenant}/service-accounts", json=body,
            headers={"Authorization": f"Bearer {token}"}, verify=self.ca_file, timeout=10,
        )
        assert response.status_code == 201, response.text
        return response.json()


def serve_environment() -> dict:
    """The test's environment without any TESSERA_* variable, as conftest.start_server uses."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    environment["TESSERA_SIGNING_ALG"] = "ES256"
    return environment


def start_tls_server(directory: str, cert: str, key: str, ca_file: str, *extra: str, issuer: bool = True) -> TLSServer:
    """`tessera serve --tls-cert cert --tls-key key *extra` in `directory` (which holds the
    files, and is removed if the server does not start), polled at https://127.0.0.1:PORT/health/ready with `ca_file` until it answers.
    With `issuer`, `--issuer https://127.0.0.1:PORT` is passed; without, the issuer is left
    to its default, which with TLS is that same URL."""
    port = free_port()
    local = f"https://127.0.0.1:{port}"
    arguments = [BIN, "serve", "--port", str(port), "--tls-cert", cert, "--tls-key", key, *extra]
    if issuer:
        arguments += ["--issuer", local]
    env = serve_environment()
    with open(os.path.join(directory, "serve.log"), "a") as log:
        process = subprocess.Popen(arguments, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            message = f"tessera serve (TLS) exited with {process.returncode} before it was ready:\n" + read_log(directory)
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError(message)
        try:
            ready = requests.get(local + "/health/ready", verify=ca_file, timeout=1)
            if ready.status_code == 200:
                return TLSServer(directory, port, local, process, env, ca_file)
            last = f"/health/ready answered {ready.status_code} {ready.text}"
        except (requests.ConnectionError, requests.Timeout) as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    message = f"tessera serve (TLS) did not become ready within 30 s ({last}):\n" + read_log(directory)
    shutil.rmtree(directory, ignore_errors=True)
    raise RuntimeError(message)


def serve_refused(*arguments: str, budget: float = 20) -> tuple[int | None, str]:
    """Runs `tessera serve --port FREE *arguments` in a new folder, expecting it to stop
    at start; answers its exit status (None if it was still running after `budget`
    seconds, when it is killed) and everything it printed."""
    directory = tempfile.mkdtemp(prefix="tessera-binding-refused-")
    output_path = os.path.join(directory, "serve.log")
    with open(output_path, "w") as output:
        process = subprocess.Popen(
            [BIN, "serve", "--port", str(free_port()), *arguments], cwd=directory, env=serve_environment(),
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        status = process.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        status = None
    with open(output_path, errors="replace") as output:
        printed = output.read()
    shutil.rmtree(directory, ignore_errors=True)
    return status, printed


def handshake(port: int, ca_file: str, *, alpn: list[str] | None = None, version: ssl.TLSVersion | None = None,
              client: tuple[str, str] | None = None) -> tuple[bytes, str | None, str]:
    """A fresh TLS connection to 127.0.0.1:`port`: the server certificate's DER, the ALPN
    protocol selected and the TLS version."""
    context = ssl.create_default_context(cafile=ca_file)
    if alpn:
        context.set_alpn_protocols(alpn)
    if version is not None:
        context.minimum_version = context.maximum_version = version
    if client:
        context.load_cert_chain(*client)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.getpeercert(binary_form=True), tls.selected_alpn_protocol(), tls.version()


def served_serial(port: int, ca_file: str) -> int:
    """The serial number of the certificate a new connection is served."""
    der, _, _ = handshake(port, ca_file)
    return x509.load_der_x509_certificate(der).serial_number
