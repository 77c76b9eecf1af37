"""Property: `delete_old_media` agrees with an independent oracle on random media trees.

Hypothesis draws a tree (media_trees.py), builds it for real in a temporary folder, and
compares what the cleanup does with what an oracle predicts from its own walk
(`os.walk(followlinks=False)` + `os.lstat`, the age rule itself cross-checked by GNU
`find -newermt`). The oracle shares no code with `maintenance.media`.
"""

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from maintenance.media import MediaCleanupSummary, delete_old_media
from tests.clock import MEDIA_NOW as NOW
from tests.clock import WEEK
from tests.maintenance.media_trees import (
    CUTOFF_NS,
    DAY_NS,
    NEAR_NS,
    SECOND_NS,
    Node,
    build,
    mtime_ns,
    plan,
    tree,
)

# Run without coverage's tracer (pytest-cov's marker): under it these examples take twice
# as long, and the example tests alone must reach the 100% that `make test` enforces.
pytestmark = pytest.mark.no_cover

KEEP = (".gitkeep", "*.keep")
COUNTS = ("scanned", "deleted", "bytes_freed", "dirs_removed", "skipped")


# --- The oracle -----------------------------------------------------------------------


def snapshot(top: bytes) -> dict[bytes, tuple]:
    """Type, size, mtime and content (file hash or link target) of everything under `top`."""
    entries = {b".": _describe(top)}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            entries[os.path.relpath(path, top)] = _describe(path)
    return entries


def _describe(path: bytes) -> tuple:
    st_ = os.lstat(path)
    if stat.S_ISLNK(st_.st_mode):
        content = os.readlink(path)
    elif stat.S_ISREG(st_.st_mode):
        content = hashlib.sha256(Path(os.fsdecode(path)).read_bytes()).hexdigest()
    else:
        content = None
    return stat.S_IFMT(st_.st_mode), st_.st_size, st_.st_mtime_ns, content


@dataclass
class Prediction:
    survivors: set[bytes]
    old_files_and_links: set[bytes]  # before the keep list; cross-checked with find
    counts: dict[str, int]


def predict(root: bytes) -> Prediction:
    """Walk the tree bottom-up and decide, entry by entry, what the cleanup must remove."""
    gone: set[bytes] = set()
    everything: set[bytes] = set()
    old_files: set[bytes] = set()
    emptied: dict[bytes, bool] = {}  # directory path -> every entry in it is gone
    counts = dict.fromkeys(COUNTS, 0)
    for dirpath, dirnames, filenames in os.walk(root, topdown=False, followlinks=False):
        all_gone = True
        for name in dirnames + filenames:  # os.walk lists links to directories as dirnames
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            everything.add(rel)
            counts["scanned"] += 1
            info = os.lstat(path)
            old = info.st_mtime_ns < CUTOFF_NS
            kept = name == b".gitkeep" or name.endswith(b".keep")
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                if old:
                    old_files.add(rel)
                removed = old and not kept
                if removed:
                    counts["deleted"] += 1
                    counts["bytes_freed"] += info.st_size
            elif stat.S_ISDIR(info.st_mode):  # its own entries were judged earlier (bottom-up)
                removed = old and not kept and emptied[path]
                counts["dirs_removed"] += removed
            else:
                removed = False
                counts["skipped"] += 1
            if removed:
                gone.add(rel)
            all_gone = all_gone and removed
        emptied[dirpath] = all_gone
    return Prediction(everything - gone, old_files, counts)


def old_files_by_find(root: bytes) -> set[bytes]:
    """GNU find's view of the age rule: files and links not newer than the cutoff."""
    cutoff = f"@{CUTOFF_NS // SECOND_NS}"
    rule = ["(", "-type", "f", "-o", "-type", "l", ")", "!", "-newermt", cutoff, "-print0"]
    out = subprocess.run(
        ["find", root, "-mindepth", "1", *rule], check=True, capture_output=True
    ).stdout
    return {os.path.relpath(path, root) for path in out.split(b"\0") if path}


def counts_of(summary: MediaCleanupSummary) -> dict[str, int]:
    return {name: getattr(summary, name) for name in COUNTS}


# --- The property ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module-wide folder; each example makes and removes its own folder inside it."""
    return tmp_path_factory.mktemp("media-properties")


@pytest.fixture(scope="module")
def has_gnu_find() -> bool:
    """GNU find is part of every Linux base system; elsewhere the cross-check is optional."""
    if sys.platform == "linux":
        return True  # and if it is missing, old_files_by_find fails loudly
    found = shutil.which("find")
    if not found:
        return False
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    return "GNU findutils" in version


@given(nodes=tree, root_mtime_ns=mtime_ns, via_symlink=st.booleans())
# Pinned, not found: the boundary pair 2 s either side of the cutoff, and one of each kind.
@example(
    nodes=[
        Node("file", 0, b"old-by-2s", CUTOFF_NS - NEAR_NS, size=3),
        Node("file", 0, b"young-by-2s", CUTOFF_NS + NEAR_NS, size=5),
        Node("dir", 0, b"old-empty", CUTOFF_NS - DAY_NS),  # directory 1
        Node("dir", 0, b"young-empty", CUTOFF_NS + DAY_NS),  # directory 2
        Node("dir", 0, b"old-kept", CUTOFF_NS - DAY_NS),  # directory 3
        Node("file", 3, b".gitkeep", CUTOFF_NS - DAY_NS),
        Node("dir", 0, b"old-emptied", CUTOFF_NS - DAY_NS),  # directory 4
        Node("file", 4, b"old", CUTOFF_NS - DAY_NS),
        Node("link", 0, b"to-outside-dir", CUTOFF_NS - DAY_NS, target=("outside", b"olddir", True)),
        Node("link", 0, b"loop", CUTOFF_NS - DAY_NS, target=("self",)),
        Node("fifo", 0, b"fifo", CUTOFF_NS - DAY_NS),
    ],
    root_mtime_ns=CUTOFF_NS - DAY_NS,
    via_symlink=True,
)
def test_cleanup_removes_exactly_what_an_independent_walk_predicts(
    scratch: Path, has_gnu_find: bool, nodes: list[Node], root_mtime_ns: int, via_symlink: bool
) -> None:
    with tempfile.TemporaryDirectory(dir=scratch) as base_dir:
        base = os.fsencode(base_dir)
        planned = plan(nodes)
        root = build(base, root_mtime_ns, planned)
        given_root = root
        if via_symlink:  # the configured root may itself be a link; it is resolved once
            given_root = os.path.join(base, b"root-link")
            os.symlink(root, given_root)
        outside_before = snapshot(os.path.join(base, b"outside"))
        tree_before = snapshot(root)
        expected = predict(root)
        if has_gnu_find:
            assert old_files_by_find(root) == expected.old_files_and_links
        for count, value in expected.counts.items():  # what the examples covered
            event(f"{count} > 0" if value else f"{count} == 0")

        def run(dry_run: bool):
            return delete_old_media(
                root=Path(os.fsdecode(given_root)), now=NOW, max_age=WEEK, dry_run=dry_run,
                keep=KEEP,
            )  # fmt: skip

        dry = run(dry_run=True)
        assert snapshot(root) == tree_before, "a dry run changed the tree"
        assert (counts_of(dry), dry.errors, dry.dry_run) == (expected.counts, 0, True)

        real = run(dry_run=False)
        tree_after = snapshot(root)
        assert set(tree_after) - {b"."} == expected.survivors
        for rel in expected.survivors:  # survivors untouched (a directory's mtime may move)
            if tree_before[rel][0] != stat.S_IFDIR:
                assert tree_after[rel] == tree_before[rel], rel
        assert (counts_of(real), real.errors, real.dry_run) == (expected.counts, 0, False)
        assert real.root == os.fsdecode(os.path.realpath(root))
        assert snapshot(os.path.join(base, b"outside")) == outside_before

        # Idempotent: the run touched only directory mtimes, and those moved to the wall
        # clock, which is after NOW, so nothing it left behind has become old.
        again = run(dry_run=False)
        assert snapshot(root) == tree_after
        assert counts_of(again) == {
            "scanned": len(expected.survivors),
            "deleted": 0,
            "bytes_freed": 0,
            "dirs_removed": 0,
            "skipped": expected.counts["skipped"],
        }
        assert again.errors == 0
