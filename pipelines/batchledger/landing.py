"""The one place that turns an id from an API into a local file path.

An id such as `../../evil` or `/some/dir/victim` joined into a path would write, overwrite or
delete files outside the landing folder. Ids that are one plain path component keep their name
(people look for `file-<uuid>.jsonl`); any other id gets a name derived from its hash, which no
plain id can take, and the resolved path is checked to lie inside the folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from batchledger.together.records import is_safe_id

# Plain ids start with a letter or digit, so this prefix never collides with one.
HASHED_PREFIX = "_id-"


class UnsafePathError(ValueError):
    """A path made from an id would leave its folder (a symlink in the way, say)."""


def local_name(entity_id: str, suffix: str = ".jsonl") -> str:
    """A file name for an id: the id itself when it is a plain name, else a hash of it."""
    if is_safe_id(entity_id) and entity_id not in (".", ".."):
        return entity_id + suffix
    digest = hashlib.sha256(entity_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{HASHED_PREFIX}{digest}{suffix}"


def file_path(folder: Path, file_id: str) -> Path:
    """Where a file's content lives in `folder`; never outside it.

    The name is one plain component (local_name), so the path can leave the folder only if
    that name is a symlink: only then is it resolved. One lstat per file, where resolving every
    path walked each folder above it (a measurable share of loading thousands of files)."""
    path = folder / local_name(file_id)
    if path.is_symlink():
        inside = folder.resolve()
        if path.resolve().parent != inside:
            raise UnsafePathError(f"file {file_id!r} would be stored outside {inside}; refused")
    return path


def landing_path(landing_dir: Path, file_id: str) -> Path:
    """The landing copy of a Together file."""
    return file_path(landing_dir / "together", file_id)
