"""Test certificates made at test time with the `openssl` command line (nothing is committed).

Every function writes into a directory the caller owns (e.g. a tempfile.TemporaryDirectory) and
returns file paths. Keys are EC P-256 unless key_type="rsa" (RSA 2048) is asked for.

    import certs
    ca = certs.CA(tmpdir)                           # ca.cert, ca.key
    srv = ca.server()                               # srv.cert, srv.key: 127.0.0.1, ::1, localhost
    cli = ca.client("team-a", dns=["a.example"], uris=["spiffe://example/a"],
                    emails=["a@example.com"])       # cli.cert, cli.key
    old = ca.client("old", expired=True)           # notAfter in the past
    other = certs.CA(tmpdir, name="other-ca")       # an unrelated CA ...
    stranger = other.client("stranger")             # ... and a client it signed

    p = certs.make_pki(tmpdir)  # all of the above at once, as a dict of Pair/CA objects

Standalone use (prints the paths): python3 certs.py DIR
"""
import os
import subprocess
import sys
from collections import namedtuple

Pair = namedtuple("Pair", ["cert", "key"])


def _run(args):
    r = subprocess.run(["openssl"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.strip()))


def _new_key_args(key_type):
    if key_type == "rsa":
        return ["-newkey", "rsa:2048"]
    if key_type == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    raise ValueError("key_type must be 'ec' or 'rsa', got %r" % key_type)


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class CA:
    """A self-signed certificate authority in `directory`; signs server and client certificates."""

    def __init__(self, directory, name="telegate-test-ca", key_type="ec", days=30):
        self.dir = directory
        self.name = name
        self.key_type = key_type
        base = os.path.join(directory, _safe(name))
        self.cert, self.key = base + ".crt", base + ".key"
        _run(["req", "-x509", *_new_key_args(key_type), "-nodes", "-keyout", self.key,
              "-out", self.cert, "-subj", "/O=telegate tests/CN=" + name, "-days", str(days),
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        self._serial = 0

    def _sign(self, stem, subject, extensions, days, key_type):
        base = os.path.join(self.dir, _safe(stem))
        key, csr, cert, ext = base + ".key", base + ".csr", base + ".crt", base + ".ext"
        _run(["req", "-new", *_new_key_args(key_type or self.key_type), "-nodes", "-keyout", key,
              "-out", csr, "-subj", subject])
        with open(ext, "w") as f:
            f.write("\n".join(extensions) + "\n")
        self._serial += 1
        _run(["x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
              "-set_serial", str(1000 + self._serial), "-days", str(days), "-sha256",
              "-extfile", ext, "-out", cert])
        os.remove(csr)
        os.remove(ext)
        return Pair(cert, key)

    def server(self, name="server", ips=("127.0.0.1", "::1"), dns=("localhost",), days=30,
               key_type=None):
        """A serving certificate (CN=name) for the given IP and DNS SANs."""
        sans = ["IP:" + ip for ip in ips] + ["DNS:" + d for d in dns]
        ext = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
               "extendedKeyUsage=serverAuth"]
        if sans:
            ext.append("subjectAltName=" + ",".join(sans))
        return self._sign("%s-%s" % (self.name, name), "/O=telegate tests/CN=" + name, ext, days,
                          key_type)

    def client(self, cn, dns=(), uris=(), emails=(), org="telegate tests", expired=False, days=30,
               key_type=None):
        """A client certificate with subject CN=cn (and O=org) and the given SANs. expired=True
        gives one whose notAfter is a day in the past."""
        sans = (["DNS:" + d for d in dns] + ["URI:" + u for u in uris] +
                ["email:" + e for e in emails])
        ext = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature",
               "extendedKeyUsage=clientAuth"]
        if sans:
            ext.append("subjectAltName=" + ",".join(sans))
        subject = ("/O=%s" % org if org else "") + "/CN=" + cn
        return self._sign("%s-client-%s%s" % (self.name, cn, "-expired" if expired else ""),
                          subject, ext, -1 if expired else days, key_type)


def make_pki(directory, key_type="ec"):
    """The usual set: a CA, a server certificate for 127.0.0.1/::1/localhost, a client with SANs
    (CN=team-a), a second client (CN=team-b), an expired client, and another CA with its client."""
    ca = CA(directory, key_type=key_type)
    other = CA(directory, name="other-ca", key_type=key_type)
    return {
        "ca": ca,
        "server": ca.server(),
        "client": ca.client("team-a", dns=["team-a.example"], uris=["spiffe://example/team-a"],
                            emails=["team-a@example.com"]),
        "client_b": ca.client("team-b", dns=["team-b.example"]),
        "expired": ca.client("expired", expired=True),
        "other_ca": other,
        "other_client": other.client("stranger"),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: certs.py DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for k, v in make_pki(sys.argv[1]).items():
        print(k, v.cert, v.key)
