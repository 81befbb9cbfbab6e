"""A real RFC 3161 time-stamp authority on 127.0.0.1: `openssl ts -reply` behind a tiny HTTP server.

It has its own root (to be added to the trust anchors) and a signing certificate with the
critical timeStamping EKU that RFC 3161 requires. Each request runs one `openssl ts -reply`.
"""

from __future__ import annotations

import datetime
import http.server
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance.services.pki import Credentials, certificate_pem, issue_root, private_key_pem

TSA_CONFIG = """\
[ tsa ]
default_tsa = local_tsa

[ local_tsa ]
dir = {directory}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa-root.pem
signer_key = $dir/tsa-key.pem
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def issue_tsa_certificate(root: Credentials) -> Credentials:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cleanroom test TSA")]))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    return Credentials(key, certificate)


class LocalTsa:
    def __init__(self) -> None:
        if shutil.which("openssl") is None:
            raise RuntimeError("the local TSA needs the openssl command line tool")
        self.directory = Path(tempfile.mkdtemp(prefix="cleanroom-tsa-"))
        self.root = issue_root("Cleanroom test TSA root")
        signer = issue_tsa_certificate(self.root)
        (self.directory / "tsa-root.pem").write_text(certificate_pem(self.root.certificate))
        (self.directory / "tsa.pem").write_text(certificate_pem(signer.certificate))
        (self.directory / "tsa-key.pem").write_text(private_key_pem(signer.key))
        (self.directory / "serial").write_text("01\n")
        (self.directory / "tsa.cnf").write_text(TSA_CONFIG.format(directory=self.directory))
        self.requests = 0
        self._lock = threading.Lock()  # openssl rewrites the serial file: one reply at a time
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def root_pem(self) -> str:
        return certificate_pem(self.root.certificate)

    def reply(self, query: bytes) -> bytes:
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as work:
            query_file, reply_file = Path(work) / "query.tsq", Path(work) / "reply.tsr"
            query_file.write_bytes(query)
            subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.directory / "tsa.cnf"),
                    "-queryfile",
                    str(query_file),
                    "-out",
                    str(reply_file),
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
            self.requests += 1
            return reply_file.read_bytes()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = tsa.reply(query)
                except subprocess.CalledProcessError:
                    self.send_error(400, "openssl ts -reply refused the query")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> LocalTsa:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.directory, ignore_errors=True)
