# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local, faithful stand-in for the SMSBOX Account API (``/1.1/api.php``).

The integration tests, molecule, the demo and the benchmark of ``smsbox.account`` share it.
It keeps several main accounts (one per API key) with their balances and sub-accounts, answers
exactly like SMSBOX (always HTTP 200 ``text/plain``: ``OK``, ``ERREUR``, ``CREDIT n``,
``ERROR 0x``), can serve TLS with a generated CA, can add latency, can close each connection after its
answer (no keep-alive), and can inject scripted faults
(answer lost after the operation was applied, connection dropped before, slow answer, HTML 502
page, ``ERROR 05``, garbage or empty body).  Its state, including every operation actually
applied, is readable by tests so they can check that nothing was applied twice.

Python standard library only; ``cryptography`` is imported lazily, only when TLS is asked for.

Use it from Python::

    with Emulator(accounts={"key-a": 1000}) as emu:
        ...  # talk to emu.url, read emu.state(), emu.add_fault(...)

or from a shell (see ``serve --help``)::

    python smsbox_emulator.py serve --account key-a=1000 --ready-file /tmp/emu.json --background
    python smsbox_emulator.py state --ready-file /tmp/emu.json
    python smsbox_emulator.py stop --ready-file /tmp/emu.json
"""
# pylint: disable=too-many-lines

from __future__ import absolute_import, division, print_function

import argparse
import copy
import datetime
import decimal
import errno
import json
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from urllib.request import HTTPSHandler, ProxyHandler, build_opener

__metaclass__ = type  # pylint: disable=invalid-name

API_PATH = '/1.1/api.php'
CONTROL_PREFIX = '/_emulator'

OPERATIONS = ('balance', 'transfer', 'create', 'any')
# fault name -> whether the operation is applied by default
FAULTS = {
    'lost_answer': True,
    'drop_before': False,
    'slow': True,
    'html_502': False,
    'error_05': False,
    'erreur': False,
    'garbage': False,
    'empty': False,
}
DEFAULT_SLOW_DELAY = 15.0

HTML_502 = ('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>'
            '<hr><center>nginx</center></body></html>')
HTML_404 = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN"><html><head><title>404 Not Found</title></head>'
            '<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>')
GARBAGE = 'Warning: mysql_connect(): Too many connections in /var/www/api.php on line 12'

NAME_MAX = 50
CREDIT_RE = re.compile(r'^[+-]?[0-9]+$')
MAX_BODY = 1024 * 1024
REQUEST_LOG_LIMIT = 10000
TEXT_PLAIN = 'text/plain; charset=utf-8'
APPLICATION_JSON = 'application/json'


class FaultError(ValueError):
    """An invalid fault or account description."""


def to_decimal(value):
    """A balance given as int, float, str or Decimal, as a finite Decimal."""
    if isinstance(value, bool) or value is None:
        raise FaultError('invalid balance: %r' % (value,))
    try:
        result = decimal.Decimal(str(value).strip())
    except (decimal.InvalidOperation, ValueError) as exc:
        raise FaultError('invalid balance: %r' % (value,)) from exc
    if not result.is_finite():
        raise FaultError('invalid balance: %r' % (value,))
    return result


def json_number(value):
    """A Decimal as int when integral, else float (for the state JSON)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def format_balance(value, decimal_comma=False):
    """A Decimal as SMSBOX writes it: ``22``, ``22.5`` (``22,5`` with decimal_comma)."""
    if value == value.to_integral_value():
        text = str(int(value))
    else:
        text = format(value.normalize(), 'f')
    if decimal_comma:
        text = text.replace('.', ',')
    return text


def bad_text(text):
    """True when a pseudo or mdp is missing, empty, too long or holds control characters."""
    if not text or len(text) > NAME_MAX:
        return True
    return any(unicodedata.category(char) == 'Cc' for char in text)


def normalize_fault(spec):
    """Validate one fault description (a dict) and return it in canonical form."""
    if not isinstance(spec, dict):
        raise FaultError('a fault must be an object')
    unknown = set(spec) - {'operation', 'fault', 'times', 'match', 'delay', 'apply'}
    if unknown:
        raise FaultError('unknown fault keys: %s' % ', '.join(sorted(unknown)))
    operation = spec.get('operation', 'any')
    if operation not in OPERATIONS:
        raise FaultError('operation must be one of %s' % ', '.join(OPERATIONS))
    fault = spec.get('fault')
    if fault not in FAULTS:
        raise FaultError('fault must be one of %s' % ', '.join(sorted(FAULTS)))
    times = spec.get('times', 1)
    if times is None:
        times = 1
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise FaultError('times must be an integer >= 1')
    match = spec.get('match') or {}
    if not isinstance(match, dict):
        raise FaultError('match must be an object of form parameters')
    match = dict((str(key), str(value)) for key, value in match.items())
    delay = spec.get('delay')
    if delay is None:
        delay = DEFAULT_SLOW_DELAY if fault == 'slow' else 0.0
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise FaultError('delay must be a number >= 0')
    apply_ = spec.get('apply')
    if apply_ is not None and not isinstance(apply_, bool):
        raise FaultError('apply must be a boolean')
    return {'operation': operation, 'fault': fault, 'times': times, 'match': match,
            'delay': float(delay), 'apply': apply_}


class Account:  # pylint: disable=too-few-public-methods
    """One main account: balance, sub-accounts and the operations applied."""

    def __init__(self, balance):
        self.balance = to_decimal(balance)
        self.subaccounts = {}
        self.creates = []
        self.transfers = []

    def to_json(self):
        """The account as in the state JSON."""
        return {
            'balance': json_number(self.balance),
            'subaccounts': dict((name, {'credits': json_number(sub['credits']), 'nolimit': sub['nolimit'],
                                        'password': sub['password']})
                                for name, sub in self.subaccounts.items()),
            'creates': list(self.creates),
            'transfers': [{'to': item['to'], 'credit': item['credit']} for item in self.transfers],
        }


class _Server(ThreadingHTTPServer):
    """The HTTP(S) server; TLS handshakes happen in the worker threads, not in the accept loop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, emulator, family):
        self.address_family = family
        self.emulator = emulator
        ThreadingHTTPServer.__init__(self, address, _Handler)

    def finish_request(self, request, client_address):
        emulator = self.emulator
        with emulator.lock:
            emulator.connections += 1
        conn = request
        if emulator.ssl_context is not None:
            try:
                request.settimeout(10)
                conn = emulator.ssl_context.wrap_socket(request, server_side=True)
                conn.settimeout(None)
            except (OSError, ValueError):
                return
        with emulator.lock:
            emulator.open_sockets.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ValueError):
            pass
        finally:
            with emulator.lock:
                emulator.open_sockets.discard(conn)
            if conn is not request:
                _close_quietly(conn)

    def handle_error(self, request, client_address):
        if self.emulator.verbose:
            ThreadingHTTPServer.handle_error(self, request, client_address)


def _close_quietly(sock):
    for how in (socket.SHUT_RDWR, None):
        try:
            if how is None:
                sock.close()
            else:
                sock.shutdown(how)
        except (OSError, ValueError):
            pass


class _Handler(BaseHTTPRequestHandler):
    """One connection: API requests, control requests, anything else is a 404."""

    protocol_version = 'HTTP/1.1'
    server_version = 'Apache'
    sys_version = ''
    timeout = 300
    disable_nagle_algorithm = True

    # --- plumbing -------------------------------------------------------------------------------

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.emulator.verbose:
            sys.stderr.write('%s - - [%s] %s\n' % (self.address_string(), self.log_date_time_string(), format % args))

    def _read_body(self):  # pylint: disable=too-many-return-statements
        """The request body as bytes (Content-Length or chunked); None when unreadable."""
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return None
                try:
                    size = int(line.split(b';')[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                        pass
                    return b''.join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get('Content-Length')
        if not length:
            return b''
        try:
            length = int(length)
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def _send(self, status, body, content_type=TEXT_PLAIN):
        if isinstance(body, str):
            body = body.encode('utf-8')
        try:
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(body)))
            if self.close_connection:
                self.send_header('Connection', 'close')
            # headers and body in one write: no Nagle / delayed-ACK stall
            self._headers_buffer.append(b'\r\n' + body)
            self.flush_headers()
        except (OSError, ValueError):
            self.close_connection = True

    def _send_json(self, status, data):
        self._send(status, json.dumps(data, sort_keys=True), APPLICATION_JSON)

    def _abort(self):
        """Close the connection at once without any answer (the client sees a reset or EOF)."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except (OSError, ValueError):
            pass
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass

    # --- methods --------------------------------------------------------------------------------

    def do_GET(self):  # pylint: disable=invalid-name
        """GET: API (balance read), control state."""
        self._dispatch()

    def do_POST(self):  # pylint: disable=invalid-name
        """POST: API, control."""
        self._dispatch()

    def do_DELETE(self):  # pylint: disable=invalid-name
        """DELETE: control (faults)."""
        self._dispatch()

    def do_PUT(self):  # pylint: disable=invalid-name
        """PUT: nothing, 404."""
        self._dispatch()

    def _dispatch(self):
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(400, 'bad request body')
            return
        parts = urlsplit(self.path)
        if parts.path == API_PATH and self.command in ('GET', 'POST'):
            self._api(parts.query, body)
        elif parts.path == CONTROL_PREFIX or parts.path.startswith(CONTROL_PREFIX + '/'):
            self._control(parts.path[len(CONTROL_PREFIX):], parts.query, body)
        else:
            self._send(404, HTML_404, 'text/html; charset=iso-8859-1')

    # --- the API --------------------------------------------------------------------------------

    def _api(self, query, body):
        emulator = self.server.emulator
        query_params = _last_values(parse_qs(query, keep_blank_values=True))
        bad_encoding = False
        try:
            form = parse_qs(body.decode('utf-8'), keep_blank_values=True, errors='strict')
        except UnicodeDecodeError:
            form = parse_qs(body.decode('utf-8', 'replace'), keep_blank_values=True, errors='replace')
            bad_encoding = True
        form = _last_values(form)
        auth = self.headers.get('Authorization') or ''
        scheme, _sep, key = auth.strip().partition(' ')
        key = key.strip() if scheme.lower() == 'app' else ''

        latency = emulator.latency
        if latency:
            emulator.stop_event.wait(latency)
        if not emulator.keep_alive:
            self.close_connection = True  # answered with Connection: close, then closed
        outcome = emulator.handle_api(self.command, query_params, form, key, bad_encoding=bad_encoding)
        fault = outcome['fault']
        if fault is None:
            self._send(200, outcome['answer'])
        elif fault['fault'] in ('lost_answer', 'drop_before'):
            self._abort()
        elif fault['fault'] == 'slow':
            emulator.stop_event.wait(fault['delay'])
            self._send(200, outcome['answer'])
        elif fault['fault'] == 'html_502':
            self._send(502, HTML_502, 'text/html')
        elif fault['fault'] == 'error_05':
            self._send(200, 'ERROR 05')
        elif fault['fault'] == 'erreur':
            self._send(200, 'ERREUR')
        elif fault['fault'] == 'garbage':
            self._send(200, GARBAGE)
        else:  # empty
            self._send(200, b'')

    # --- the control API ------------------------------------------------------------------------

    def _control(self, path, query, body):
        emulator = self.server.emulator
        try:
            data = json.loads(body.decode('utf-8')) if body.strip() else None
        except ValueError as exc:
            self._send_json(400, {'error': 'invalid JSON: %s' % exc})
            return
        try:
            if path == '/state' and self.command == 'GET':
                params = _last_values(parse_qs(query))
                self._send_json(200, emulator.state(requests=params.get('requests', 'yes') not in ('no', '0', 'false')))
            elif path == '/faults' and self.command == 'POST':
                emulator.add_faults(data if isinstance(data, list) else [data])
                self._send_json(201, {'faults': emulator.state(requests=False)['faults']})
            elif path == '/faults' and self.command == 'DELETE':
                emulator.clear_faults()
                self._send_json(200, {'faults': []})
            elif path == '/reset' and self.command == 'POST':
                if data is not None and not isinstance(data, dict):
                    raise FaultError('reset body must be an object')
                emulator.reset((data or {}).get('accounts'))
                self._send_json(200, emulator.state(requests=False))
            elif path == '/accounts' and self.command == 'POST':
                if not isinstance(data, dict):
                    raise FaultError('accounts body must be an object {"key": balance}')
                emulator.set_accounts(data)
                self._send_json(200, emulator.state(requests=False))
            elif path == '/spend' and self.command == 'POST':
                if not isinstance(data, dict):
                    raise FaultError('spend body must be an object {"subaccount": name, "credits": n}')
                # Only the sub-account's figure: the state would carry keys and passwords into a test's output.
                self._send_json(200, {'subaccount': data.get('subaccount'), 'credits': emulator.spend(data.get('subaccount'), data.get('credits'))})
            else:
                self._send_json(404, {'error': 'unknown control endpoint %s %s' % (self.command, CONTROL_PREFIX + path)})
        except FaultError as exc:
            self._send_json(400, {'error': str(exc)})


def _last_values(parsed):
    """parse_qs result -> one value per name, the last one (like PHP)."""
    return dict((name, values[-1]) for name, values in parsed.items())


def generate_certificates(cert_dir):
    """Create (or reuse) a CA and a server certificate for 127.0.0.1, ::1 and localhost in cert_dir.

    Returns (ca_cert, server_cert, server_key) paths.
    """
    # pylint: disable=import-outside-toplevel,import-error,too-many-locals
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_path = os.path.join(cert_dir, 'ca.pem')
    cert_path = os.path.join(cert_dir, 'server.pem')
    key_path = os.path.join(cert_dir, 'server-key.pem')
    now = datetime.datetime.now(datetime.timezone.utc)

    if all(os.path.exists(path) for path in (ca_path, cert_path, key_path)):
        try:
            with open(cert_path, 'rb') as handle:
                existing = x509.load_pem_x509_certificate(handle.read())
            not_after = getattr(existing, 'not_valid_after_utc', None)
            if not_after is None:
                not_after = existing.not_valid_after.replace(tzinfo=datetime.timezone.utc)
            if not_after > now + datetime.timedelta(days=1):
                return ca_path, cert_path, key_path
        except (OSError, ValueError):
            pass

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'SMSBOX emulator test CA')])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName('localhost'),
                x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
                x509.IPAddress(ipaddress.ip_address('::1')),
            ]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))

    os.makedirs(cert_dir, exist_ok=True)
    pem = serialization.Encoding.PEM
    _write_file(ca_path, ca_cert.public_bytes(pem))
    _write_file(cert_path, cert.public_bytes(pem))
    _write_file(key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    return ca_path, cert_path, key_path


def _write_file(path, data, mode=0o644):
    """Write data to path atomically (temp file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Emulator:
    """The SMSBOX Account API emulator: state, faults and a background HTTP(S) server."""

    # pylint: disable=too-many-instance-attributes,too-many-arguments

    # Options are keyword-only: that keeps them within pylint 3.3's positional-argument limit without a
    # disable that the pylint of older ansible-core lines would not know.
    def __init__(self, accounts=None, *, tls=False, latency=0.0, bad_key_answer='ERROR 02', max_subaccounts=500,
                 decimal_comma=False, host='127.0.0.1', port=0, cert_dir=None, verbose=False, keep_alive=True):
        self.initial_accounts = copy.deepcopy(dict(accounts or {}))
        self.tls = bool(tls)
        self.latency = float(latency or 0.0)
        self.bad_key_answer = bad_key_answer
        self.max_subaccounts = int(max_subaccounts)
        self.decimal_comma = bool(decimal_comma)
        self.host = host
        self.port = int(port)
        self.cert_dir = cert_dir
        self.verbose = verbose
        self.keep_alive = bool(keep_alive)
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.open_sockets = set()
        self.ssl_context = None
        self.ca_cert = None
        self.connections = 0
        self.accounts = {}
        self.requests = []
        self.faults = []
        self._seq = 0
        self._server = None
        self._thread = None
        self._wake = ()
        self._tmp_cert_dir = None
        self.reset()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self):
        """Start serving in a background thread; returns self."""
        if self._server is not None:
            return self
        if self.tls:
            cert_dir = self.cert_dir
            if cert_dir is None:
                self._tmp_cert_dir = cert_dir = tempfile.mkdtemp(prefix='smsbox-emulator-tls-')
            self.ca_cert, cert_path, key_path = generate_certificates(cert_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert_path, key_path)
            self.ssl_context = context
        family = socket.AF_INET6 if ':' in self.host else socket.AF_INET
        self.stop_event.clear()
        self._server = _Server((self.host, self.port), self, family)
        self.port = self._server.server_address[1]
        self._server.timeout = 0.5
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._serve_loop, args=(self._server, self._wake[0]),
                                        name='smsbox-emulator', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving: close the listening socket and open connections, join the thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stop_event.set()
        try:
            self._wake[1].send(b'x')
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        for sock in self._wake:
            sock.close()
        with self.lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
        server.server_close()
        if self._tmp_cert_dir is not None:
            shutil.rmtree(self._tmp_cert_dir, ignore_errors=True)
            self._tmp_cert_dir = None
            self.ca_cert = None

    def _serve_loop(self, server, wake):
        """Accept connections until stop(); the wake socket interrupts the wait at once."""
        with selectors.DefaultSelector() as selector:
            selector.register(server.socket, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self.stop_event.is_set():
                for key, _events in selector.select(1.0):
                    if key.fileobj is server.socket and not self.stop_event.is_set():
                        server.handle_request()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base_url(self):
        """scheme://host:port of the server."""
        host = self.host
        if host in ('0.0.0.0', ''):
            host = '127.0.0.1'
        elif host == '::':
            host = '::1'
        if ':' in host:
            host = '[%s]' % host
        return '%s://%s:%d' % ('https' if self.tls else 'http', host, self.port)

    @property
    def url(self):
        """The API endpoint URL."""
        return self.base_url + API_PATH

    @property
    def control_url(self):
        """The control API base URL."""
        return self.base_url + CONTROL_PREFIX

    # --- state and control ----------------------------------------------------------------------

    def reset(self, accounts=None):
        """Back to the given accounts (default: those given at construction); no requests, faults, connections."""
        if accounts is None:
            accounts = self.initial_accounts
        new_accounts = {}
        with self.lock:
            self._build_accounts(new_accounts, accounts)
            self.accounts = new_accounts
            self.requests = []
            self.faults = []
            self.connections = 0
            self._seq = 0

    def set_accounts(self, accounts):
        """Add main accounts or set the balance of existing ones: {"key": balance, ...}."""
        with self.lock:
            self._build_accounts(self.accounts, accounts)

    def spend(self, subaccount, credits):
        """The sub-account sends SMS worth ``credits``: they leave it, as the dashboard would then show."""
        with self.lock:
            for account in self.accounts.values():
                sub = account.subaccounts.get(subaccount)
                if sub is not None:
                    amount = to_decimal(credits)
                    if amount < 0 or amount > sub['credits']:
                        raise FaultError('%s holds %s credits; it cannot spend %s' % (subaccount, sub['credits'], credits))
                    sub['credits'] -= amount
                    return float(sub['credits']) if sub['credits'] % 1 else int(sub['credits'])
        raise FaultError('no sub-account %s' % subaccount)

    def _build_accounts(self, target, accounts):
        """Add/update main accounts in target from {"key": balance | {"balance": b, "subaccounts": {...}} | {"same_as": key}}.

        ``same_as`` makes the key another key of an existing main account, as during a key rotation."""
        if not isinstance(accounts, dict):
            raise FaultError('accounts must be an object {"key": balance}')
        staged = {}
        known = set()
        for acc in target.values():
            known.update(acc.subaccounts)
        aliases = {}
        for key, spec in accounts.items():
            key = str(key)
            subs = {}
            if isinstance(spec, dict) and 'same_as' in spec:
                if str(spec['same_as']) not in target:
                    raise FaultError('same_as names no main account')
                aliases[key] = target[str(spec['same_as'])]  # a rotated key: one main account, reached by both keys
                continue
            if isinstance(spec, dict):
                balance = to_decimal(spec.get('balance', 0))
                for name, sub in (spec.get('subaccounts') or {}).items():
                    sub = sub if isinstance(sub, dict) else {'credits': sub}
                    if name in known:
                        raise FaultError('sub-account %s already exists' % name)
                    known.add(name)
                    subs[str(name)] = {'credits': to_decimal(sub.get('credits', 0)), 'nolimit': bool(sub.get('nolimit', False)),
                                       'password': str(sub.get('password', ''))}
            else:
                balance = to_decimal(spec)
            staged[key] = (balance, subs)
        for key, (balance, subs) in staged.items():
            account = target.get(key)
            if account is None:
                account = target[key] = Account(balance)
            account.balance = balance
            account.subaccounts.update(subs)
        target.update(aliases)

    def add_fault(self, operation='any', fault=None, times=1, match=None, delay=None, apply=None):
        """Queue one fault; the first matching fault with times left is consumed by an API request."""
        # pylint: disable=redefined-builtin
        self.add_faults([{'operation': operation, 'fault': fault, 'times': times, 'match': match, 'delay': delay,
                          'apply': apply}])

    def add_faults(self, faults):
        """Queue several faults (dicts with the add_fault keys)."""
        normalized = [normalize_fault(spec) for spec in faults]
        with self.lock:
            self.faults.extend(normalized)

    def clear_faults(self):
        """Drop every pending fault."""
        with self.lock:
            self.faults = []

    def state(self, requests=True):
        """The state as a JSON-compatible dict (same as GET /_emulator/state)."""
        with self.lock:
            result = {
                'accounts': dict((key, account.to_json()) for key, account in self.accounts.items()),
                'faults': [dict(fault, match=dict(fault['match'])) for fault in self.faults],
                'connections': self.connections,
            }
            if requests:
                result['requests'] = copy.deepcopy(self.requests)
        return result

    # --- the API logic --------------------------------------------------------------------------

    def handle_api(self, method, query, form, key, *, bad_encoding=False):
        """Process one API request under the lock; returns {"answer": body, "fault": fault or None}."""
        # pylint: disable=too-many-arguments
        action = query.get('action', form.get('action'))
        if action == 'credit':
            operation = 'transfer' if 'to' in form else 'balance'
        elif action == 'utilisateur':
            operation = 'create'
        else:
            operation = 'other'
        with self.lock:
            fault = self._take_fault(operation, dict(query, **form))
            apply_ = True if fault is None else (fault['apply'] if fault['apply'] is not None else FAULTS[fault['fault']])
            result = self._process(action, query, form, key, bad_encoding) if apply_ else None
            self._seq += 1
            logged = dict(form)
            if 'mdp' in logged:
                logged['mdp'] = '***'
            entry = {'seq': self._seq, 'method': method, 'action': action, 'params': logged,
                     'key': key if key in self.accounts else None,
                     'answer': result if fault is None else 'fault:%s' % fault['fault'],
                     'result': result}
            self.requests.append(entry)
            if len(self.requests) > REQUEST_LOG_LIMIT:
                del self.requests[:len(self.requests) - REQUEST_LOG_LIMIT]
        return {'answer': result, 'fault': fault}

    def _take_fault(self, operation, params):
        for index, fault in enumerate(self.faults):
            if fault['operation'] not in ('any', operation):
                continue
            if any(params.get(name) != value for name, value in fault['match'].items()):
                continue
            taken = dict(fault)
            fault['times'] -= 1
            if fault['times'] <= 0:
                del self.faults[index]
            return taken
        return None

    def _process(self, action, query, form, key, bad_encoding):
        account = self.accounts.get(key) if key else None
        if account is None:
            return self.bad_key_answer
        if action == 'credit':
            if 'to' not in form:
                return 'CREDIT %s' % format_balance(account.balance, self.decimal_comma)
            return self._transfer(account, form, bad_encoding)
        if action == 'utilisateur' and form.get('do', query.get('do')) == 'add':
            return self._create(account, form, bad_encoding)
        return 'ERROR 01'

    @staticmethod
    def _transfer(account, form, bad_encoding):
        name = form.get('to', '')
        credit = form.get('credit', '')
        if bad_encoding or not CREDIT_RE.match(credit) or name not in account.subaccounts:
            return 'ERREUR'
        amount = int(credit)
        sub = account.subaccounts[name]
        if amount == 0:
            return 'ERREUR'
        if amount > 0 and account.balance < amount:
            return 'ERREUR'
        if amount < 0 and sub['credits'] < -amount:
            return 'ERREUR'
        account.balance -= amount
        sub['credits'] += amount
        account.transfers.append({'to': name, 'credit': amount})
        return 'OK'

    def _create(self, account, form, bad_encoding):
        pseudo = form.get('pseudo')
        mdp = form.get('mdp')
        nolimit = form.get('nolimit', 'no')
        if bad_encoding or bad_text(pseudo) or bad_text(mdp) or nolimit not in ('yes', 'no'):
            return 'ERREUR'
        if any(pseudo in other.subaccounts for other in self.accounts.values()):
            return 'ERREUR'
        if len(account.subaccounts) >= self.max_subaccounts:
            return 'ERREUR'
        account.subaccounts[pseudo] = {'credits': decimal.Decimal(0), 'nolimit': nolimit == 'yes', 'password': mdp}
        account.creates.append(pseudo)
        return 'OK'


# --- command line -------------------------------------------------------------------------------

def _parse_account(text):
    key, sep, balance = text.rpartition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError('expected KEY=BALANCE, got %r' % text)
    try:
        to_decimal(balance)
    except FaultError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return key, balance


def _build_parser():
    parser = argparse.ArgumentParser(prog='smsbox_emulator.py', description='Local SMSBOX Account API emulator.',
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest='command')
    sub.required = True
    serve = sub.add_parser('serve', help='run the emulator', allow_abbrev=False)
    serve.add_argument('--host', default='127.0.0.1')
    serve.add_argument('--port', type=int, default=0, help='0 picks a free port')
    serve.add_argument('--account', action='append', type=_parse_account, default=[], metavar='KEY=BALANCE')
    serve.add_argument('--accounts-file', help='JSON object {"key": balance, ...}')
    serve.add_argument('--tls', action='store_true', help='serve HTTPS with a generated CA')
    serve.add_argument('--cert-dir', help='where to write (or reuse) ca.pem, server.pem, server-key.pem')
    serve.add_argument('--latency', type=float, default=0.0, help='seconds slept before each API answer')
    serve.add_argument('--no-keep-alive', dest='keep_alive', action='store_false',
                       help='close the connection after each API answer: every request pays a new TCP (and TLS) handshake')
    serve.add_argument('--bad-key-answer', default='ERROR 02', choices=('ERROR 02', 'ERREUR'))
    serve.add_argument('--max-subaccounts', type=int, default=500)
    serve.add_argument('--decimal-comma', action='store_true', help='answer CREDIT 22,5 instead of CREDIT 22.5')
    serve.add_argument('--ready-file', help='write the ready JSON here (atomically)')
    serve.add_argument('--background', action='store_true', help='detach; return once ready')
    serve.add_argument('--verbose', action='store_true', help='access log on stderr (no secrets)')
    for name, text in (('stop', 'stop a running emulator'), ('state', 'print the state JSON')):
        cmd = sub.add_parser(name, help=text, allow_abbrev=False)
        cmd.add_argument('--ready-file', required=True)
    return parser


def _read_ready(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8', errors='replace') as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return True


def _serve(args, argv):
    if args.background:
        return _serve_background(args, argv)
    accounts = {}
    if args.accounts_file:
        with open(args.accounts_file, encoding='utf-8') as handle:
            accounts.update(json.load(handle))
    accounts.update(dict(args.account))
    emulator = Emulator(accounts=accounts, tls=args.tls, latency=args.latency, bad_key_answer=args.bad_key_answer,
                        max_subaccounts=args.max_subaccounts, decimal_comma=args.decimal_comma, host=args.host,
                        port=args.port, cert_dir=args.cert_dir, verbose=args.verbose, keep_alive=args.keep_alive)
    done = threading.Event()

    def on_signal(_signum, _frame):
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator.start()
    ready = {'url': emulator.url, 'control_url': emulator.control_url, 'ca_cert': emulator.ca_cert, 'pid': os.getpid()}
    if args.ready_file:
        ready['ready_file'] = os.path.abspath(args.ready_file)
    line = json.dumps(ready, sort_keys=True)
    try:
        if args.ready_file:
            _write_file(args.ready_file, (line + '\n').encode('utf-8'))
        sys.stdout.write(line + '\n')
        sys.stdout.flush()
        while not done.wait(1):
            pass
    finally:
        emulator.stop()
        if args.ready_file:
            try:
                if _read_ready(args.ready_file).get('pid') == os.getpid():
                    os.unlink(args.ready_file)
            except (OSError, ValueError):
                pass
    return 0


def _serve_background(args, argv):
    ready_file = args.ready_file
    if not ready_file:
        ready_file = os.path.join(tempfile.mkdtemp(prefix='smsbox-emulator-'), 'ready.json')
    ready_file = os.path.abspath(ready_file)
    try:
        os.unlink(ready_file)
    except OSError:
        pass
    child_args = [arg for arg in argv if arg != '--background']
    if not args.ready_file:
        child_args += ['--ready-file', ready_file]
    errors = tempfile.TemporaryFile()
    with open(os.devnull, 'r+b') as devnull:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, os.path.abspath(__file__)] + child_args,
            stdin=devnull, stdout=devnull, stderr=errors, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors.seek(0)
            sys.stderr.write('emulator exited with code %s before it was ready\n%s'
                             % (process.returncode, errors.read().decode('utf-8', 'replace')))
            return 1
        try:
            ready = _read_ready(ready_file)
            if ready.get('pid') == process.pid:
                sys.stdout.write(json.dumps(ready, sort_keys=True) + '\n')
                sys.stdout.flush()
                return 0
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    process.terminate()
    sys.stderr.write('emulator not ready after 10 s\n')
    return 1


def _stop(args):
    try:
        ready = _read_ready(args.ready_file)
    except (OSError, ValueError):
        sys.stderr.write('no emulator: %s is missing or unreadable\n' % args.ready_file)
        return 0
    pid = int(ready.get('pid') or 0)
    if pid <= 0 or not _pid_alive(pid) or not _is_emulator(pid):
        # A stale ready file (after a reboot or SIGKILL) may name a pid that is now another process.
        _remove(args.ready_file)
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        _remove(args.ready_file)
        return 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            _remove(args.ready_file)
            return 0
        time.sleep(0.05)
    sys.stderr.write('emulator pid %d still running after 5 s: killing it\n' % pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    _remove(args.ready_file)
    return 1


def _is_emulator(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return b'smsbox_emulator' in handle.read()
    except OSError:
        return True  # no /proc (not Linux): trust the ready file, written by the emulator itself


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _state(args):
    ready = _read_ready(args.ready_file)
    handlers = [ProxyHandler({})]  # never through a proxy
    if ready.get('ca_cert'):
        handlers.append(HTTPSHandler(context=ssl.create_default_context(cafile=ready['ca_cert'])))
    with build_opener(*handlers).open(ready['control_url'] + '/state', timeout=10) as response:
        data = json.loads(response.read().decode('utf-8'))
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + '\n')
    return 0


def main(argv=None):
    """Command line entry point."""
    if argv is None:
        argv = sys.argv[1:]
    args = _build_parser().parse_args(argv)
    if args.command == 'serve':
        return _serve(args, argv)
    if args.command == 'stop':
        return _stop(args)
    return _state(args)


if __name__ == '__main__':
    sys.exit(main())
