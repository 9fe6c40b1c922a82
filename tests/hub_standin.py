"""A local stand-in for the Hugging Face Hub's download endpoints, served on 127.0.0.1.

Point `HF_ENDPOINT` at `HubStandin.url` and the real huggingface_hub client downloads from it:

    with HubStandin(folder, repo="avemo/avemo-models", revision="v0.6.0") as hub:
        os.environ["HF_ENDPOINT"] = hub.url

It serves the files under `folder` as one repository at one commit, answering the calls that
huggingface_hub 2.4's `snapshot_download` / `hf_hub_download` make (see their file_download.py and
hf_api.py):

    GET  /api/models/{repo}/revision/{rev}        repo info: {"id", "sha", "siblings": [{"rfilename"}]}
    GET  /api/models/{repo}/tree/{rev}[?recursive] the file listing: [{"type", "path", "size", "oid", "lfs"?}]
    HEAD /{repo}/resolve/{rev}/{path}              X-Repo-Commit, ETag, Content-Length; for LFS-like
    GET  /{repo}/resolve/{rev}/{path}              files (binary ones) also X-Linked-Etag (sha256) and X-Linked-Size

An unknown repository answers 401 with X-Error-Code: RepoNotFound, an unknown revision 404 with
X-Error-Code: RevisionNotFound, an unknown file 404 with X-Error-Code: EntryNotFound, as the Hub does.
`requests` records every (method, path) served. Run `python -m tests.hub_standin FOLDER` to try it by hand.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".keras", ".onnx", ".h5", ".task", ".tflite", ".bin", ".npz", ".safetensors")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubStandin:
    """A threading HTTP server serving `folder` as `repo` at `revision` (any other revision: 404)."""

    def __init__(self, folder: Path, repo: str = "avemo/avemo-models", revision: str = "main"):
        self.folder = Path(folder)
        self.repo = repo
        self.revision = revision
        self.requests: list[tuple[str, str]] = []
        self.files = sorted(p.relative_to(self.folder).as_posix()
                            for p in self.folder.rglob("*") if p.is_file())
        digest = hashlib.sha1()
        for name in self.files:
            digest.update(name.encode() + b"\0" + (self.folder / name).read_bytes())
        self.commit = digest.hexdigest()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "HubStandin":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what the Hub would say about a file --------------------------------------------------
    def entry(self, name: str) -> dict:
        data = (self.folder / name).read_bytes()
        item = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
        if name.endswith(LFS_SUFFIXES):
            item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return item

    def knows_revision(self, revision: str) -> bool:
        return revision in (self.revision, self.commit)

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
                      content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str) -> None:
                body = json.dumps({"error": message}).encode()
                self._send(status, body, {"X-Error-Code": code, "X-Error-Message": message,
                                          "X-Repo-Commit": hub.commit} if code == "EntryNotFound"
                           else {"X-Error-Code": code, "X-Error-Message": message})

            def _route(self) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append((self.command, path))
                repo = re.escape(hub.repo)
                if m := re.fullmatch(rf"/api/models/([^/]+/[^/]+)/revision/(.+)", path):
                    return self._repo_info(m[1], m[2])
                if m := re.fullmatch(rf"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path):
                    return self._tree(m[1], m[2], (m[3] or "").lstrip("/"))
                if m := re.fullmatch(rf"/({repo})/resolve/([^/]+)/(.+)", path):
                    return self._resolve(m[2], m[3])
                self._error(404, "RepoNotFound" if "/resolve/" in path else "NotFound", "not found")

            def _check(self, repo: str, revision: str) -> bool:
                if repo != hub.repo:
                    self._error(401, "RepoNotFound", "Repository not found")
                    return False
                if not hub.knows_revision(revision):
                    self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
                    return False
                return True

            def _repo_info(self, repo: str, revision: str) -> None:
                if self._check(repo, revision):
                    body = {"id": repo, "modelId": repo, "sha": hub.commit, "private": False,
                            "siblings": [{"rfilename": name} for name in hub.files], "tags": []}
                    self._send(200, json.dumps(body).encode())

            def _tree(self, repo: str, revision: str, under: str) -> None:
                if self._check(repo, revision):
                    names = [n for n in hub.files if not under or n.startswith(under.rstrip("/") + "/")]
                    self._send(200, json.dumps([hub.entry(n) for n in names]).encode())

            def _resolve(self, revision: str, name: str) -> None:
                if not hub.knows_revision(revision):
                    return self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
                if name not in hub.files:
                    return self._error(404, "EntryNotFound", f"{name} does not exist")
                entry = hub.entry(name)
                headers = {"X-Repo-Commit": hub.commit, "ETag": f'"{entry["oid"]}"',
                           "Accept-Ranges": "bytes"}
                if "lfs" in entry:
                    headers["X-Linked-Etag"] = f'"{entry["lfs"]["oid"]}"'
                    headers["X-Linked-Size"] = str(entry["lfs"]["size"])
                self._send(200, (hub.folder / name).read_bytes(), headers, "application/octet-stream")

            def do_GET(self):
                self._route()

            def do_HEAD(self):
                self._route()

        return Handler


if __name__ == "__main__":
    import sys
    import time

    with HubStandin(Path(sys.argv[1]), revision=sys.argv[2] if len(sys.argv) > 2 else "main") as standin:
        print(f"HF_ENDPOINT={standin.url}  repo={standin.repo}  commit={standin.commit}", flush=True)
        while True:
            time.sleep(3600)
