"""Kontor served as an install runs it: `python app.py` (waitress, the jobs) in a process of its
own, for the tests that need the real server (the reverse proxy, memory). Test modules import
these from here, never from one another.
"""
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from helpers import PG_URL

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30


def wait_for_port(port, process, output, what):
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{what} does not accept connections:\n"
                                   + Path(output).read_text(errors="replace")) from None
            time.sleep(0.05)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class PostgresDatabase:
    """A throw-away database of its own on the suite's PostgreSQL server."""

    def __init__(self):
        self.parts = urlsplit(PG_URL.replace("postgres://", "postgresql://", 1))
        self.name = f"kontor_p_{uuid.uuid4().hex[:10]}"
        self.url = urlunsplit(self.parts._replace(path=f"/{self.name}"))

    def run(self, statement):
        conn = psycopg2.connect(urlunsplit(self.parts._replace(path="/postgres")))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:   # not `with conn`: that would open a transaction
                cur.execute(statement)
        finally:
            conn.close()

    def create(self):
        self.run(f'CREATE DATABASE "{self.name}"')
        return self.url

    def drop(self):
        self.run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
