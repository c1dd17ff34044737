"""The data folder holds patient data (the review database and its WAL), secrets (the local API key,
the first admin's password) and caches: folders chartcoder creates there are 0700 and files 0600,
whatever the umask, and `loose_paths` finds existing ones that others can read (the API warns at
start; it does not change modes an operator may have chosen)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_SCAN_LIMIT = 2000  # entries looked at under the data folder at start (it is small; a guard all the same)

log = logging.getLogger("chartcoder.files")


def private_dir(path: Path) -> Path:
    """`path` and any missing parent, created 0700 (folders that exist keep their mode)."""
    missing = []
    p = Path(path)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(folder, PRIVATE_DIR)
    return Path(path)


def create_private_file(path: Path) -> bool:
    """Creates `path` empty and 0600 unless it exists (its folder 0700 if missing). True if created.
    SQLite then gives its -wal and -shm files the database file's mode."""
    private_dir(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.fchmod(fd, PRIVATE_FILE)
    os.close(fd)
    return True


def write_private(path: Path, text: str) -> None:
    """Writes `path` (replacing it) so that it is never readable by others, not even briefly."""
    private_dir(Path(path).parent)
    tmp = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def loose_paths(data_dir: Path, extra: Iterable[Path] = ()) -> list[tuple[Path, int]]:
    """Folders and files in the data folder (and `extra`, e.g. a database elsewhere) that a group or
    others may read, write or enter, with their mode. Symbolic links are not followed."""
    found: list[tuple[Path, int]] = []
    seen = 0

    def check(p: Path) -> None:
        try:
            st = p.lstat()
        except OSError:
            return
        if (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)) and st.st_mode & 0o077:
            found.append((p, stat.S_IMODE(st.st_mode)))

    root = Path(data_dir)
    if root.is_dir():
        check(root)
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                seen += 1
                if seen > _SCAN_LIMIT:
                    break
                check(Path(folder) / name)
            if seen > _SCAN_LIMIT:
                break
    for p in extra:
        if root not in Path(p).parents:
            check(Path(p))
    return found


def sqlite_files(url: str) -> list[Path]:
    """The database file of a SQLite URL and its WAL and shared-memory files; [] for other databases."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return []
    db = Path(parsed.database)
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def warn_if_loose(data_dir: Path, database_url: str) -> list[tuple[Path, int]]:
    """Logs one warning naming what others can read (paths and modes only), with the fix."""
    loose = loose_paths(data_dir, sqlite_files(database_url))
    if loose:
        shown = ", ".join(f"{p} ({m:04o})" for p, m in loose[:10])
        more = f" and {len(loose) - 10} more" if len(loose) > 10 else ""
        log.warning(
            "files with patient data or secrets are readable by others: %s%s; folders should be 0700 and files "
            "0600 (chmod -R go-rwx %s)",
            shown,
            more,
            data_dir,
        )
    return loose
