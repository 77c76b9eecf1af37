"""Random media trees for the media property (test_media_properties.py): plan, then build.

A tree nests up to MAX_DEPTH directories; odd names (bytes that are not UTF-8 too); files,
links and FIFOs with ages either side of the 7-day cutoff but never within NEAR_NS of it
(the edge has its own module, test_media_cutoff.py); links inside and outside the root,
broken, looping; keep-list names and near misses.
"""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

CUTOFF_NS = 1_771_729_200 * 10**9  # 2026-02-22 03:00:00 UTC, i.e. MEDIA_NOW - 7 days, in ns
MAX_DEPTH = 4  # directories nested under the root, at most
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
mtime_ns = st.one_of(
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
    st.builds(Node, st.just("file"), _parent, _name, mtime_ns, size=st.integers(0, 300)),
    st.builds(Node, st.just("dir"), _parent, _name, mtime_ns),
    st.builds(Node, st.just("link"), _parent, _name, mtime_ns, target=_link_target),
    st.builds(Node, st.just("fifo"), _parent, _name, mtime_ns),
)
tree = st.lists(_node, max_size=24)


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
