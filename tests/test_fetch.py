"""`bench.py fetch` / `datasets` against a loopback HTTP mirror (never the internet), and the default data folder."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from avgzsl_bench.artefacts.state import STATE_FILE, read_state
from avgzsl_bench.cli import main
from avgzsl_bench.datasets import get_dataset
from avgzsl_bench.datasets.locations import DATA_ENV, data_home, resolve_root
from avgzsl_bench.errors import BenchError

from avca_bundle_factory import write_avca_bundle
from bundle_factory import write_bundle

FOLDERS = {"ucf": "UCF", "activitynet": "ActivityNet", "vggsound": "VGGSound"}


class Mirror(ThreadingHTTPServer):
    """Loopback-only file server: honours single `Range: bytes=N-[M]` requests (with `If-Range`) and can
    drop a connection after a number of body bytes, once, to simulate an interrupted download."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}  # path -> body bytes sent before the next GET is cut
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class MirrorHandler(BaseHTTPRequestHandler):
    server: Mirror
    timeout = 10  # a stuck client cannot hold a handler thread for longer

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        body = self.server.files.get(self.path)
        self.server.requests.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        start, end = 0, len(body) - 1
        requested = self.headers.get("Range")
        partial = bool(requested) and self.headers.get("If-Range", etag) == etag
        if partial:
            first, _, last = requested.removeprefix("bytes=").partition("-")
            start, end = int(first), int(last) if last else len(body) - 1
            if start >= len(body):
                self.send_error(416)
                return
        self.send_response(206 if partial else 200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        self.end_headers()
        chunk = body[start : end + 1]
        cut = self.server.drop_after.pop(self.path, None)
        if cut is not None:
            self.wfile.write(chunk[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(chunk)


@pytest.fixture
def mirror():
    server = Mirror()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> Path:
    """The three ClipClap dataset folders, small and synthetic, in the released layout."""
    root = tmp_path_factory.mktemp("bundles")
    for dataset, folder in FOLDERS.items():
        write_bundle(root / folder, dataset, classes="synthetic", samples_per_class=3)
    return root


def zip_tree(root: Path, prefix: str, skip: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    """The folders under `root` as zip bytes, each path under `prefix` (how the archive nests them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and not (skip and relative.startswith(skip)):
                archive.write(path, prefix + relative)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def fetch_cli(capsys, home: Path, url: str, *extra: str) -> tuple[int, str]:
    code = main(["fetch", "clipclap-features", "--url", url, "--dest", str(home), "--quiet", *extra])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def no_partial_dataset(home: Path) -> bool:
    """Nothing of a dataset exists under its final name, and no staging folder looks like one."""
    return not any((home / folder).exists() for folder in FOLDERS.values()) and not any(
        (path / "class-split").exists() for path in home.glob("*/*") if path.is_dir()
    )


@pytest.mark.parametrize("prefix", ["data/", "avgzsl_benchmark_datasets/", ""])
def test_fetch_from_mirror_finds_folders_by_contents_and_data_is_then_found(
    capsys, monkeypatch, tmp_path, mirror, bundles, prefix
):
    body = zip_tree(bundles, prefix, extra={f"{prefix}README.txt": b"not a dataset"})
    mirror.files["/data.zip"] = body
    home = tmp_path / "home"
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 0, out
    for folder in FOLDERS.values():
        assert (home / folder / "class-split" / "all_class.txt").is_file()
    record = read_state(home)["clipclap-features"]
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert set(record["folders"]) == set(FOLDERS.values())
    assert not list(home.glob(".unpacking-*"))

    # A second fetch finds everything unchanged and downloads nothing.
    served = len(mirror.requests)
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 0 and "already fetched" in out and len(mirror.requests) == served

    # The default data folder now serves `--dataset ucf` without --root.
    monkeypatch.setenv(DATA_ENV, str(home))
    code = main(["--methods", "zeroshot", "--dataset", "ucf", "--no-store", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "| zeroshot | ucf" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("| verified") == 3 and str(home / "UCF") in listing


@pytest.mark.parametrize("retries", [0, 2])
def test_interrupted_download_resumes_where_it_stopped(capsys, tmp_path, mirror, bundles, retries):
    body = zip_tree(bundles, "data/")
    cut = len(body) // 3
    mirror.files["/data.zip"], mirror.drop_after["/data.zip"] = body, cut
    home = tmp_path / "home"
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"), "--retries", str(retries))
    if retries == 0:  # this fetch fails, keeps the partial download, and says how to go on
        assert code == 2 and "partial download is kept; the next fetch resumes it" in out and "Manual route" in out
        assert list((home / ".downloads").glob("data.zip*.part")) and no_partial_dataset(home)
        code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 0, out
    ranges = [header for _, header in mirror.requests if header]
    # Continued from what had arrived (gdown keeps whole 512 KB chunks), not from zero.
    assert ranges and 0 < int(ranges[-1].removeprefix("bytes=").rstrip("-")) <= cut
    assert read_state(home)["clipclap-features"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert (home / "VGGSound" / "class-split").is_dir()


def _corrupt_member(body: bytes) -> bytes:
    """Flip one byte inside the stored data of the last member: the zip opens, its CRC check fails."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        last = archive.infolist()[-1]
    data = bytearray(body)
    offset = last.header_offset + 30 + len(last.filename.encode()) + len(last.extra)
    data[offset] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("damage", ["truncated", "bad crc", "not a zip"])
def test_corrupt_archive_is_a_clear_error_and_unpacks_nothing(capsys, tmp_path, mirror, bundles, damage):
    body = zip_tree(bundles, "data/")
    body = {"truncated": body[: len(body) // 2], "bad crc": _corrupt_member(body), "not a zip": b"<html>quota"}[damage]
    mirror.files["/data.zip"] = body
    home = tmp_path / "home"
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    archive, aside = home / ".downloads" / "data.zip", home / ".downloads" / "rejected" / "data.zip"
    assert code == 2 and "not a readable zip" in out and f"moved aside to '{aside}'" in out and str(archive) in out
    assert aside.read_bytes() == body and not archive.exists()
    assert "Traceback" not in out
    assert no_partial_dataset(home) and not list(home.glob(".unpacking-*"))
    assert "clipclap-features" not in read_state(home)


@pytest.mark.parametrize(
    "skip, missing",
    [
        ("VGGSound/", "VGGSound"),  # a dataset absent altogether
        ("UCF/features/cls_features_non_averaged/audio/stage_2_test_unseen", "stage_2_test_unseen"),
        ("ActivityNet/class-split/cls_split/stage_1_val_seen.txt", "stage_1_val_seen.txt"),
    ],
)
def test_wrong_layout_is_a_clear_error_and_installs_nothing(capsys, tmp_path, mirror, bundles, skip, missing):
    mirror.files["/data.zip"] = zip_tree(bundles, "data/", skip=skip)
    home = tmp_path / "home"
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 2 and missing in out, out
    assert no_partial_dataset(home) and not list(home.glob(".unpacking-*"))


@pytest.mark.parametrize("damage", ["wrong layout", "corrupt"])
def test_a_rejected_archive_is_moved_aside_and_the_next_fetch_downloads_again(
    capsys, tmp_path, mirror, bundles, damage
):
    good = zip_tree(bundles, "data/")
    mirror.files["/bad.zip"] = zip_tree(bundles, "data/", skip="VGGSound/") if damage == "wrong layout" else good[:999]
    mirror.files["/data.zip"] = good
    home = tmp_path / "home"
    code, out = fetch_cli(capsys, home, mirror.url("/bad.zip"))
    aside = home / ".downloads" / "rejected" / "data.zip"
    assert code == 2 and f"'{home / '.downloads' / 'data.zip'}' was moved aside to '{aside}'" in out, out
    assert aside.is_file()

    served = len(mirror.requests)
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 0, out
    assert [path for path, _ in mirror.requests[served:]] == ["/data.zip"]  # really downloaded again
    assert read_state(home)["clipclap-features"]["sha256"] == hashlib.sha256(good).hexdigest()


def test_force_downloads_again_even_with_an_archive_kept(capsys, tmp_path, mirror, bundles):
    mirror.files["/data.zip"] = zip_tree(bundles, "data/")
    home = tmp_path / "home"
    assert fetch_cli(capsys, home, mirror.url("/data.zip"))[0] == 0
    (home / ".downloads" / "data.zip").write_bytes(b"not a zip")  # a kept archive gone bad
    served = len(mirror.requests)
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"), "--force")
    assert code == 0, out
    assert [path for path, _ in mirror.requests[served:]] == ["/data.zip"]


def test_tampering_is_reported_and_a_changed_archive_refused(capsys, tmp_path, mirror, bundles):
    mirror.files["/data.zip"] = zip_tree(bundles, "data/")
    home = tmp_path / "home"
    assert fetch_cli(capsys, home, mirror.url("/data.zip"))[0] == 0
    archive = home / ".downloads" / "data.zip"
    archive.write_bytes(zip_tree(bundles, "data/", extra={"data/extra.txt": b"x"}))  # a different, valid zip
    (home / "UCF" / "class-split" / "all_class.txt").unlink()

    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as patch:
        patch.setenv(DATA_ENV, str(home))
        assert main(["datasets", "--verify"]) == 1
    listing = capsys.readouterr().out
    assert "layout broken" in listing and "sha256 MISMATCH" in listing

    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 2 and "fetched before had" in out and str(archive) in out
    archive.unlink()  # the fix the message gives: download it again
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 0 and (home / "UCF" / "class-split" / "all_class.txt").is_file()


def test_offline_fetch_prints_the_manual_route_and_exits_2(capsys, tmp_path):
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out = fetch_cli(capsys, tmp_path / "home", f"http://127.0.0.1:{port}/data.zip", "--retries", "0")
    assert code == 2
    assert "could not download clipclap-features" in out
    assert "drive.google.com/file/d/1fNb3WvbN76yuPVi4MeVtgDycdX0jAE2G" in out
    assert str(tmp_path / "home" / ".downloads" / "data.zip") in out and "--archive PATH" in out
    assert str(tmp_path / "home" / "UCF") in out and "partial download" not in out


def test_a_killed_unzip_leaves_nothing_that_looks_like_a_dataset(capsys, monkeypatch, tmp_path, mirror, bundles):
    home = tmp_path / "home"
    staging = home / ".unpacking-clipclap-features" / "data"
    write_bundle(staging / "UCF", "ucf", classes="synthetic")  # what a killed extraction may leave
    monkeypatch.setenv(DATA_ENV, str(home))
    with pytest.raises(BenchError, match="bench.py fetch clipclap-features"):
        resolve_root(get_dataset("ucf"), None)
    mirror.files["/data.zip"] = zip_tree(bundles, "data/")
    assert fetch_cli(capsys, home, mirror.url("/data.zip"))[0] == 0
    assert not (home / ".unpacking-clipclap-features").exists()


def test_avca_bundle_is_fetched_and_verified_by_contents(capsys, tmp_path, mirror):
    source = tmp_path / "avca"
    for dataset, folder in FOLDERS.items():
        for features in ("selavi", "c3d-vggish"):
            write_avca_bundle(source / folder, dataset, features, classes="synthetic", video_dim=4, audio_dim=4)
    broken = tmp_path / "broken"  # complete, except that UCF lacks its C3D/VGGish features
    for dataset, folder in FOLDERS.items():
        for features in ("selavi",) if dataset == "ucf" else ("selavi", "c3d-vggish"):
            write_avca_bundle(broken / folder, dataset, features, classes="synthetic", video_dim=4, audio_dim=4)
    mirror.files["/avca.zip"] = zip_tree(source, "avgzsl_benchmark_datasets/")
    mirror.files["/broken.zip"] = zip_tree(broken, "avgzsl_benchmark_datasets/")
    home = tmp_path / "home"
    code = main(["fetch", "avca-gzsl-features", "--url", mirror.url("/avca.zip"), "--dest", str(home), "--quiet"])
    assert code == 0, capsys.readouterr().err
    for folder in FOLDERS.values():
        assert (home / "avgzsl_benchmark_datasets" / folder / "features" / "main_features").is_dir()
    assert read_state(home)["avca-gzsl-features"]["sha256"]
    # The reader's layout check decides what a complete dataset folder holds.
    other = tmp_path / "other"
    code = main(["fetch", "avca-gzsl-features", "--url", mirror.url("/broken.zip"), "--dest", str(other), "--quiet"])
    assert code != 0 and "cls_features" in capsys.readouterr().err


def test_default_root_resolution_order(monkeypatch, tmp_path):
    spec = get_dataset("ucf")
    explicit, env_home, xdg = tmp_path / "explicit", tmp_path / "env", tmp_path / "xdg"
    for path in (explicit, env_home / "UCF", xdg / "avgzsl-bench" / "UCF"):
        path.mkdir(parents=True)
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    monkeypatch.setenv(DATA_ENV, str(env_home))
    assert resolve_root(spec, str(explicit)) == str(explicit.resolve())  # --root first
    assert resolve_root(spec, None) == str((env_home / "UCF").resolve())  # then $AVGZSL_DATA
    assert data_home() == (env_home.resolve(), f"${DATA_ENV}")
    monkeypatch.delenv(DATA_ENV)
    assert resolve_root(spec, None) == str(xdg / "avgzsl-bench" / "UCF")  # then the platform data folder
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "empty"))
    with pytest.raises(BenchError) as error:
        resolve_root(spec, None)
    message = " ".join(str(error.value).split())
    assert "python bench.py fetch clipclap-features" in message and "--root" in message
    assert str(tmp_path / "empty" / "UCF") in message and "data.zip" in message


def test_state_file_lives_in_the_data_folder(tmp_path, mirror, bundles, capsys):
    mirror.files["/data.zip"] = zip_tree(bundles, "")
    assert fetch_cli(capsys, tmp_path, mirror.url("/data.zip"))[0] == 0
    assert (tmp_path / STATE_FILE).is_file()


def test_download_progress_is_a_few_plain_lines_when_piped():
    from rich.console import Console

    from avgzsl_bench.artefacts.transfer import transfer_progress

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=False, width=200)
    total = 100 << 20
    with transfer_progress("downloading data.zip", console) as update:
        for done in range(0, total + 1, 512 << 10):  # one call per 512 KB chunk, as gdown makes them
            update(done, total)
    lines = stream.getvalue().splitlines()
    assert 10 <= len(lines) <= 12 and all("downloading data.zip:" in line for line in lines)
    assert "(100%)" in lines[-1] and "\r" not in stream.getvalue()


def test_a_full_disk_keeps_the_archive(capsys, monkeypatch, tmp_path, mirror, bundles):
    import errno

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    mirror.files["/data.zip"] = zip_tree(bundles, "data/")
    home = tmp_path / "home"
    monkeypatch.setattr(zipfile.ZipFile, "extract", no_space)
    code, out = fetch_cli(capsys, home, mirror.url("/data.zip"))
    assert code == 2 and "No space left on device" in out and "the archive is kept" in out, out
    assert (home / ".downloads" / "data.zip").is_file() and not (home / ".downloads" / "rejected").exists()
