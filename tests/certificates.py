"""Certificates made in the test, and TLS servers on loopback that present them.

authority = Authority()                       # a certificate authority, trusted via REQUESTS_CA_BUNDLE
pem = authority.issue(tmp_path, names=("localhost",), valid_days=(-10, -1))   # an expired certificate
with HandshakeServer(server_context(pem)) as server:
    ...a request to https://localhost:{server.port} meets that certificate...
"""

import datetime
import ipaddress
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from loopback import LoopbackServer


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


class Authority:
    """A certificate authority that issues certificates for loopback names."""

    def __init__(self, name="FPR Test Authority"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1))
            .not_valid_after(_now() + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def write(self, folder):
        """The authority's certificate as a PEM file, for REQUESTS_CA_BUNDLE."""
        path = folder / "authority.pem"
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, folder, names=("localhost", "127.0.0.1"), valid_days=(-1, 1)):
        """A PEM file holding a certificate for `names`, valid between the two day offsets from now, and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        alternative = [
            x509.IPAddress(ipaddress.ip_address(name)) if name[0].isdigit() else x509.DNSName(name) for name in names
        ]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() + datetime.timedelta(days=valid_days[0]))
            .not_valid_after(_now() + datetime.timedelta(days=valid_days[1]))
            .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        path = folder / f"{names[0]}-{x509.random_serial_number()}.pem"
        path.write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return path


def server_context(pem, **settings):
    """A server's TLS context presenting `pem`; `settings` are set on it (maximum_version=..., verify_mode=...)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    for name, value in settings.items():
        setattr(context, name, value)
    return context


class HandshakeServer(LoopbackServer):
    """A loopback server that shakes hands in TLS (when given a context), answers each request with `answer` and
    closes the connection.

    `connections` counts the connections it accepted: one per attempt the client made.
    """

    def __init__(self, context=None, answer=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"):
        self.context = context
        self.answer = answer
        super().__init__()

    def handle(self, client):
        try:
            if self.context is not None:
                client = self.context.wrap_socket(client, server_side=True)
            client.recv(65536)  # the request, or a TLS hello sent to a server that speaks none: answered alike
            client.sendall(self.answer)  # then closes, as a server ending the exchange with a GOAWAY or an alert does
        except OSError:
            pass  # the handshake failed, as the test means it to, or the client went away
        finally:
            client.close()
