"""Property: `delete_old_media` agrees with an independent oracle on random media trees.

Hypothesis draws a tree (nested up to 4 directories deep; odd names; files, links and
FIFOs with ages either side of the 7-day boundary; old and young directories; links to
files and directories inside and outside the root, broken links and loops; keep-list
names), builds it for real in a temporary folder, and compares what the cleanup does
with what an oracle predicts from its own walk (`os.walk(followlinks=False)` + `os.lstat`,
the age rule itself cross-checked by GNU `find -newermt`). The oracle shares no code with
`maintenance.media`.
"""

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from maintenance.media import MediaCleanupSummary, delete_old_media

# Run without coverage's tracer (pytest-cov's marker): under it these examples take twice
# as long, and the example tests alone must reach the 100% that `make test` enforces.
pytestmark = pytest.mark.no_cover

NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # Sunday 03:00 UTC, the beat slot
MAX_AGE = timedelta(days=7)
CUTOFF_NS = 1_771_729_200 * 10**9  # 2026-02-22 03:00:00 UTC, i.e. NOW - MAX_AGE, in ns
KEEP = (".gitkeep", "*.keep")
MAX_DEPTH = 4  # directories nested under the root, at most
COUNTS = ("scanned", "deleted", "bytes_freed", "dirs_removed", "skipped")

SECOND_NS = 10**9
DAY_NS = 86_400 * SECOND_NS
NEAR_NS = 2 * SECOND_NS  # no mtime closer than this to the cutoff: clocks cannot flake

# What lies next to the root; links may point here, and none of it may change.
OUTSIDE_OLD = CUTOFF_NS - 30 * DAY_NS
OUTSIDE_YOUNG = CUTOFF_NS + DAY_NS
OUTSIDE_FILES = {b"old.txt": OUTSIDE_OLD, b"young.txt": OUTSIDE_YOUNG, b"olddir/inner": OUTSIDE_OLD}
OUTSIDE_DIRS = {b"olddir": OUTSIDE_OLD, b"emptyold": OUTSIDE_OLD}
OUTSIDE_TARGETS = (b"old.txt", b"young.txt", b"olddir", b"emptyold", b"olddir/inner", b"missing")


# --- Strategies ----------------------------------------------------------------------

_name_piece = st.one_of(
    st.sampled_from(list(" .-_~*?[]!'\"\\\t\néßø日本語🙂\u0301\u200b\u202e")).map(str.encode),
    st.characters(exclude_characters="/\x00", exclude_categories=("Cs",)).map(str.encode),
    # Bytes that are not UTF-8: Linux file names are bytes, and such names do occur.
    *([st.integers(0x80, 0xFF).map(lambda b: bytes([b]))] if sys.platform == "linux" else []),
)
_plain_name = (
    st.lists(_name_piece, min_size=1, max_size=10)
    .map(b"".join)
    .filter(lambda name: name not in (b".", b".."))
)
_name = st.one_of(
    _plain_name,
    # Keep-list names and near misses (fnmatch here is case-sensitive).
    st.sampled_from([b".gitkeep", b".keep", b"x.keep", b".GITKEEP", b".gitkeep~", b"a.keep.bak"]),
    _plain_name.map(lambda name: name + b".keep"),
)
# Seconds either side of the cutoff, never within NEAR_NS of it; now+400 d is in the future.
_mtime_ns = st.one_of(
    st.integers(CUTOFF_NS - 400 * DAY_NS, CUTOFF_NS - NEAR_NS),
    st.integers(CUTOFF_NS + NEAR_NS, CUTOFF_NS + 400 * DAY_NS),
)


@dataclass(frozen=True)
class Node:
    """One planned entry: `parent` picks among the directories planned before it."""

    kind: str  # "file" | "dir" | "link" | "fifo"
    parent: int
    name: bytes
    mtime_ns: int
    size: int = 0
    # Links only: ("tree", index, absolute) | ("outside", name, absolute) | ("self",)
    target: tuple = ()


_link_target = st.one_of(
    st.tuples(st.just("tree"), st.integers(0, 63), st.booleans()),
    st.tuples(st.just("outside"), st.sampled_from(OUTSIDE_TARGETS), st.booleans()),
    st.just(("self",)),
)
_parent = st.integers(0, 63)
_node = st.one_of(
    st.builds(Node, st.just("file"), _parent, _name, _mtime_ns, size=st.integers(0, 300)),
    st.builds(Node, st.just("dir"), _parent, _name, _mtime_ns),
    st.builds(Node, st.just("link"), _parent, _name, _mtime_ns, target=_link_target),
    st.builds(Node, st.just("fifo"), _parent, _name, _mtime_ns),
)
_tree = st.lists(_node, max_size=24)


# --- Building the tree for real -------------------------------------------------------


@dataclass
class Planned:
    node: Node
    rel: bytes  # path relative to the root
    depth: int  # 1 for an entry directly under the root


def plan(nodes: list[Node]) -> list[Planned]:
    """Give every node a parent directory and a name unique in it."""
    dirs: list[tuple[bytes, int]] = [(b"", 0)]  # the root
    taken: dict[bytes, set[bytes]] = {b"": set()}
    planned = []
    for index, node in enumerate(nodes):
        parents = dirs if node.kind != "dir" else [d for d in dirs if d[1] < MAX_DEPTH]
        parent_rel, parent_depth = parents[node.parent % len(parents)]
        name = node.name
        if name in taken[parent_rel]:
            name += b"~%d" % index
        taken[parent_rel].add(name)
        rel = parent_rel + b"/" + name if parent_rel else name
        planned.append(Planned(node, rel, parent_depth + 1))
        if node.kind == "dir":
            dirs.append((rel, parent_depth + 1))
            taken[rel] = set()
    return planned


def build(base: bytes, root_mtime_ns: int, planned: list[Planned]) -> bytes:
    """Create the outside folder and the tree; set every mtime last, directories bottom-up."""
    outside = os.path.join(base, b"outside")
    os.mkdir(outside)
    for rel in OUTSIDE_DIRS:
        os.mkdir(os.path.join(outside, rel))
    for rel in OUTSIDE_FILES:
        Path(os.fsdecode(os.path.join(outside, rel))).write_bytes(b"outside " + rel)
    root = os.path.join(base, b"root")
    os.mkdir(root)
    for item in planned:
        path = os.path.join(root, item.rel)
        node = item.node
        if node.kind == "dir":
            os.mkdir(path)
        elif node.kind == "file":
            with open(path, "xb") as f:
                f.write(b"m" * node.size)
        elif node.kind == "fifo":
            os.mkfifo(path)
        else:
            os.symlink(_link_target_path(node.target, item, planned, root, outside), path)
    for item in planned:
        if item.node.kind != "dir":
            ns = (item.node.mtime_ns, item.node.mtime_ns)
            os.utime(os.path.join(root, item.rel), ns=ns, follow_symlinks=False)
    for item in sorted((p for p in planned if p.node.kind == "dir"), key=lambda p: -p.depth):
        os.utime(os.path.join(root, item.rel), ns=(item.node.mtime_ns, item.node.mtime_ns))
    os.utime(root, ns=(root_mtime_ns, root_mtime_ns))
    for rel, mtime in {**OUTSIDE_FILES, **OUTSIDE_DIRS}.items():
        os.utime(os.path.join(outside, rel), ns=(mtime, mtime))
    return root


def _link_target_path(
    target: tuple, item: Planned, planned: list[Planned], root: bytes, outside: bytes
) -> bytes:
    link_dir = os.path.dirname(os.path.join(root, item.rel))
    if target[0] == "self":
        return os.path.basename(item.rel)  # a loop: the link names itself
    if target[0] == "outside":
        absolute = os.path.join(outside, target[1])
    else:  # anything in the tree: the root, an ancestor (a loop), a file, a link, itself
        candidates = [b"", *(p.rel for p in planned)]
        absolute = os.path.normpath(os.path.join(root, candidates[target[1] % len(candidates)]))
    return absolute if target[2] else os.path.relpath(absolute, link_dir)


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


@given(nodes=_tree, root_mtime_ns=_mtime_ns, via_symlink=st.booleans())
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
                root=Path(os.fsdecode(given_root)), now=NOW, max_age=MAX_AGE, dry_run=dry_run,
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


def test_literal_cutoff_is_now_minus_max_age() -> None:
    assert datetime(2026, 2, 22, 3, 0, tzinfo=UTC) == NOW - MAX_AGE
    assert int(datetime(2026, 2, 22, 3, 0, tzinfo=UTC).timestamp()) * 10**9 == CUTOFF_NS
