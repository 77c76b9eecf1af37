"""delete_old_media on fake trees (pyfakefs): ages, links, names, directories, errors, dry run."""

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from maintenance import media
from maintenance.media import MediaCleanupSummary, MediaRootError, delete_old_media

NOW = datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC)  # == conftest MEDIA_NOW, spelled out
WEEK = timedelta(days=7)
OLD = timedelta(days=8)
YOUNG = timedelta(days=1)
ROOT = Path("/srv/app/generated_media")
OUTSIDE = Path("/srv/outside")

MakeFile = Callable[..., Path]
AgeEntry = Callable[[Path, timedelta], Path]

# Not root: pyfakefs then enforces permission bits (as root it ignores them, like the kernel).
as_non_root = pytest.mark.parametrize("fs", [[None, None, None, False]], indirect=True)


def clean(*, dry_run: bool = False, keep: tuple[str, ...] = (".gitkeep",)) -> MediaCleanupSummary:
    return delete_old_media(root=ROOT, now=NOW, max_age=WEEK, dry_run=dry_run, keep=keep)


def counts(summary: MediaCleanupSummary) -> dict:
    """The summary without its clock reading, for exact comparison."""
    result = summary.as_dict()
    del result["duration_s"]
    return result


def expected(**numbers: int | bool) -> dict:
    base = dict(root=str(ROOT), scanned=0, deleted=0, bytes_freed=0, dirs_removed=0)
    base.update(skipped=0, errors=0, dry_run=False, completed=True, root_missing=False)
    base.update(numbers)
    return base


def tree(top: Path) -> dict[str, tuple[int, int]]:
    """Every entry below `top` (not following links) with its lstat mode and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), top)] = (st.st_mode, st.st_mtime_ns)
    return found


@pytest.fixture
def root(fs: FakeFilesystem) -> Path:
    fs.create_dir(ROOT)
    return ROOT


# --- Age -------------------------------------------------------------------------------

AGE_PAIRS = pytest.mark.parametrize(
    ("age", "kept"),
    [
        (timedelta(days=7, seconds=-1), True),
        (timedelta(days=7), True),
        (timedelta(days=7, seconds=1), False),
        (timedelta(days=30), False),
        (timedelta(hours=-1), True),
    ],
    ids=["7d-minus-1s-kept", "exactly-7d-kept", "7d-plus-1s-deleted", "30d-deleted", "future-kept"],
)


@AGE_PAIRS
@pytest.mark.parametrize("where", ["", "a/b/c/"], ids=["in-root", "three-levels-deep"])
def test_file_is_deleted_only_when_strictly_older_than_max_age(
    root: Path, make_media_file: MakeFile, where: str, age: timedelta, kept: bool
) -> None:
    target = make_media_file(root / where / "image.png", age=age, size=123)
    neighbour = make_media_file(root / where / "fresh.png", age=timedelta(0), size=5)

    summary = clean()

    assert target.exists() is kept
    assert neighbour.exists()
    depth = where.count("/")
    assert counts(summary) == expected(
        scanned=2 + depth, deleted=0 if kept else 1, bytes_freed=0 if kept else 123
    )


def test_max_age_is_the_one_passed_in(root: Path, make_media_file: MakeFile) -> None:
    two_hours = make_media_file(root / "two-hours.png", age=timedelta(hours=2))
    half_hour = make_media_file(root / "half-hour.png", age=timedelta(minutes=30))

    summary = delete_old_media(root=ROOT, now=NOW, max_age=timedelta(hours=1), dry_run=False)

    assert not two_hours.exists()
    assert half_hour.exists()
    assert counts(summary) == expected(scanned=2, deleted=1, bytes_freed=10)


def test_now_without_a_timezone_is_refused(root: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        delete_old_media(root=ROOT, now=datetime(2026, 3, 1, 3), max_age=WEEK, dry_run=False)


def test_now_in_another_timezone_means_the_same_instant(
    root: Path, make_media_file: MakeFile
) -> None:
    just_kept = make_media_file(root / "exactly-7d.png", age=WEEK)
    gone = make_media_file(root / "7d-plus-1s.png", age=WEEK + timedelta(seconds=1))
    tokyo_now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=9)))  # == NOW

    delete_old_media(root=ROOT, now=tokyo_now, max_age=WEEK, dry_run=False)

    assert just_kept.exists()
    assert not gone.exists()


# --- Symlinks --------------------------------------------------------------------------


def test_old_link_to_a_file_outside_is_deleted_and_the_target_untouched(
    fs: FakeFilesystem, root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    target = make_media_file(OUTSIDE / "precious.txt", age=timedelta(days=90), size=7)
    link = root / "link.txt"
    link.symlink_to(target)
    age_entry(link, OLD)
    before = os.lstat(target)

    summary = clean()

    assert not os.path.lexists(link)
    assert target.read_bytes() == b"x" * 7
    assert os.lstat(target).st_mtime_ns == before.st_mtime_ns
    assert counts(summary) == expected(scanned=1, deleted=1, bytes_freed=len(str(target)))


@pytest.mark.parametrize("link_age", [OLD, YOUNG], ids=["old-link", "young-link"])
def test_link_to_a_directory_outside_is_never_followed(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry, link_age: timedelta
) -> None:
    old_outside = [
        make_media_file(OUTSIDE / "photos" / f"{n}.png", age=timedelta(days=60)) for n in range(3)
    ]
    link = root / "photos"
    link.symlink_to(OUTSIDE / "photos", target_is_directory=True)
    age_entry(link, link_age)
    before = tree(OUTSIDE)

    summary = clean()

    assert os.path.lexists(link) is (link_age == YOUNG)
    assert all(path.exists() for path in old_outside)
    assert tree(OUTSIDE) == before
    link_deleted = int(link_age == OLD)
    assert counts(summary) == expected(
        scanned=1, deleted=link_deleted, bytes_freed=link_deleted * len(str(OUTSIDE / "photos"))
    )


def test_link_is_judged_by_its_own_mtime_not_its_targets(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    young_target = make_media_file(OUTSIDE / "young.png", age=YOUNG)
    old_target = make_media_file(OUTSIDE / "old.png", age=timedelta(days=60))
    old_link = root / "old-link"
    old_link.symlink_to(young_target)
    age_entry(old_link, OLD)
    young_link = root / "young-link"
    young_link.symlink_to(old_target)
    age_entry(young_link, YOUNG)

    summary = clean()

    assert not os.path.lexists(old_link)
    assert os.path.lexists(young_link)
    assert young_target.exists()
    assert old_target.exists()
    assert counts(summary) == expected(scanned=2, deleted=1, bytes_freed=len(str(young_target)))


@pytest.mark.parametrize(("link_age", "gone"), [(OLD, True), (YOUNG, False)], ids=["old", "young"])
def test_broken_link_is_judged_like_any_link(
    root: Path, age_entry: AgeEntry, link_age: timedelta, gone: bool
) -> None:
    link = root / "dangling"
    link.symlink_to("/nowhere/at/all")
    age_entry(link, link_age)

    summary = clean()

    assert os.path.lexists(link) is not gone
    assert counts(summary) == expected(
        scanned=1, deleted=int(gone), bytes_freed=gone * len("/nowhere/at/all")
    )


@pytest.mark.timeout(10)
def test_directory_symlink_loop_does_not_hang(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    (root / "a").mkdir()
    (root / "a" / "back-to-root").symlink_to(root, target_is_directory=True)
    (root / "a" / "self").symlink_to(root / "a", target_is_directory=True)
    old = make_media_file(root / "a" / "old.png", age=OLD)

    summary = clean()

    assert not old.exists()
    assert os.path.lexists(root / "a" / "back-to-root")
    assert os.path.lexists(root / "a" / "self")
    assert counts(summary) == expected(scanned=4, deleted=1, bytes_freed=10)


def test_configured_root_that_is_a_symlink_is_resolved_once(
    fs: FakeFilesystem, make_media_file: MakeFile
) -> None:
    real_root = Path("/data/media")
    fs.create_dir(real_root)
    fs.create_dir(ROOT.parent)
    ROOT.symlink_to(real_root, target_is_directory=True)
    old = make_media_file(real_root / "old.png", age=OLD)
    young = make_media_file(real_root / "young.png", age=YOUNG)

    summary = clean()

    assert os.path.islink(ROOT)  # the configured link itself stays
    assert not old.exists()
    assert young.exists()
    assert counts(summary) == expected(root="/data/media", scanned=2, deleted=1, bytes_freed=10)


# --- Names -----------------------------------------------------------------------------


def test_names_on_the_keep_list_are_never_deleted(root: Path, make_media_file: MakeFile) -> None:
    gitkeep = make_media_file(root / ".gitkeep", age=timedelta(days=365))
    deep_gitkeep = make_media_file(root / "a" / ".gitkeep", age=timedelta(days=365))
    readme = make_media_file(root / "README.keep", age=timedelta(days=365))
    other = make_media_file(root / "old.png", age=OLD)

    summary = clean(keep=(".gitkeep", "*.keep"))

    assert gitkeep.exists()
    assert deep_gitkeep.exists()
    assert readme.exists()
    assert not other.exists()
    assert counts(summary) == expected(scanned=5, deleted=1, bytes_freed=10)


def test_keep_patterns_match_whole_names_case_sensitively(
    root: Path, make_media_file: MakeFile
) -> None:
    near_misses = [
        make_media_file(root / name, age=OLD) for name in (".gitkeep.bak", "x.gitkeep", ".GITKEEP")
    ]

    summary = clean()

    assert not any(path.exists() for path in near_misses)
    assert counts(summary) == expected(scanned=3, deleted=3, bytes_freed=30)


@pytest.mark.parametrize(
    "name",
    [".hidden.png", "изображение.png", "画像 2026.png", "name with  spaces .png", "a\nb.png"],
    ids=["hidden", "cyrillic", "cjk-and-space", "spaces", "newline"],
)
def test_unusual_names_are_judged_like_any_other(
    root: Path, make_media_file: MakeFile, name: str
) -> None:
    old = make_media_file(root / "sub" / name, age=OLD)
    young = make_media_file(root / "sub" / f"young{name}", age=YOUNG)

    summary = clean()

    assert not old.exists()
    assert young.exists()
    assert counts(summary) == expected(scanned=3, deleted=1, bytes_freed=10)


def test_non_utf8_byte_name_is_deleted_and_logged_with_escapes(
    root: Path, make_media_file: MakeFile, media_log: list[str]
) -> None:
    name = os.fsdecode(b"caf\xe9-\xff.png")  # Latin-1 bytes: not valid UTF-8
    old = make_media_file(root / name, age=OLD)

    summary = clean(dry_run=True)

    assert old.exists()
    assert f"DEBUG would delete {ROOT}/caf\\xe9-\\xff.png" in media_log
    json.dumps(summary.as_dict())  # nothing undecodable leaks into the summary
    assert counts(clean()) == expected(scanned=1, deleted=1, bytes_freed=10)
    assert not old.exists()


# --- Directories -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dir_age", "gone"),
    [
        (timedelta(days=7), False),
        (timedelta(days=7, seconds=1), True),
        (timedelta(days=30), True),
        (timedelta(hours=-1), False),
    ],
    ids=["exactly-7d-kept", "7d-plus-1s-removed", "30d-removed", "future-kept"],
)
def test_empty_directory_goes_only_when_strictly_older_than_max_age(
    root: Path, age_entry: AgeEntry, dir_age: timedelta, gone: bool
) -> None:
    empty = root / "empty"
    empty.mkdir()
    age_entry(empty, dir_age)

    summary = clean()

    assert empty.exists() is not gone
    assert counts(summary) == expected(scanned=1, dirs_removed=int(gone))


def test_directories_the_run_empties_are_removed_bottom_up(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry, media_log: list[str]
) -> None:
    make_media_file(root / "a" / "b" / "c" / "old.png", age=OLD)
    make_media_file(root / "a" / "b" / "old.png", age=OLD)
    for directory in ("a/b/c", "a/b", "a"):
        age_entry(root / directory, OLD)

    summary = clean()

    assert os.listdir(root) == []
    removed = [line for line in media_log if line.startswith("DEBUG removed directory")]
    assert removed == [f"DEBUG removed directory {ROOT}/{d}" for d in ("a/b/c", "a/b", "a")]
    assert counts(summary) == expected(scanned=5, deleted=2, bytes_freed=20, dirs_removed=3)


def test_directory_is_judged_by_its_mtime_before_the_run(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    """Deleting a file bumps its directory's mtime; the rule looks at the mtime before."""
    young_outer = root / "young"
    old_inner = young_outer / "old"
    make_media_file(old_inner / "old.png", age=OLD)
    age_entry(old_inner, OLD)
    age_entry(young_outer, YOUNG)

    summary = clean()

    assert young_outer.exists()
    assert not old_inner.exists()
    assert counts(summary) == expected(scanned=3, deleted=1, bytes_freed=10, dirs_removed=1)


def test_old_directory_that_still_holds_something_stays(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    young_file = make_media_file(root / "old-dir" / "young.png", age=YOUNG)
    kept_dir = make_media_file(root / "kept-dir" / ".gitkeep", age=OLD).parent
    age_entry(root / "old-dir", OLD)
    age_entry(kept_dir, OLD)

    summary = clean()

    assert young_file.exists()
    assert (kept_dir / ".gitkeep").exists()
    assert counts(summary) == expected(scanned=4)


def test_old_directory_on_the_keep_list_stays_even_when_empty(
    root: Path, age_entry: AgeEntry
) -> None:
    kept = root / "cache.keep"
    kept.mkdir()
    age_entry(kept, OLD)

    summary = clean(keep=("*.keep",))

    assert kept.is_dir()
    assert counts(summary) == expected(scanned=1)


def test_the_root_is_never_removed(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    make_media_file(root / "old.png", age=OLD)
    age_entry(root, timedelta(days=365))

    summary = clean()

    assert root.is_dir()
    assert os.listdir(root) == []
    assert counts(summary) == expected(scanned=1, deleted=1, bytes_freed=10)


def test_missing_root_gives_an_empty_summary_and_a_warning(
    fs: FakeFilesystem, media_log: list[str]
) -> None:
    summary = clean()

    assert counts(summary) == expected(root_missing=True)
    assert f"WARNING generated media root {ROOT} does not exist; nothing to clean" in media_log
    assert not os.path.exists(ROOT)


def test_root_that_is_a_regular_file_is_refused_and_left_alone(fs: FakeFilesystem) -> None:
    fs.create_file(ROOT, contents="not a folder")

    with pytest.raises(MediaRootError, match=f"cannot open generated media root {ROOT}: "):
        clean()

    assert Path(ROOT).read_text() == "not a folder"


# --- Other kinds, other filesystems ----------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK],
    ids=["fifo", "socket", "char-device", "block-device"],
)
def test_other_kinds_are_skipped_counted_and_never_opened(
    fs: FakeFilesystem,
    root: Path,
    age_entry: AgeEntry,
    media_log: list[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: int,
) -> None:
    special = root / "old-dir" / "special"
    fs.create_file(special, st_mode=kind | 0o644)
    age_entry(special, timedelta(days=60))
    age_entry(root / "old-dir", OLD)
    opened: list[object] = []
    real_open = media.os.open
    monkeypatch.setattr(
        media.os, "open", lambda path, *a, **kw: opened.append(path) or real_open(path, *a, **kw)
    )

    summary = clean()

    assert stat.S_IFMT(os.lstat(special).st_mode) == kind
    # The root, one component at a time, and the folder; the special file never.
    assert opened == ["/", "srv", "app", "generated_media", "old-dir"]
    assert media_log == [
        f"INFO skipping {ROOT}/old-dir/special: not a regular file, symlink or directory",
        f"INFO clean_generated_media summary: {summary.as_dict()}",
    ]  # and its old folder, not empty, is not even tried
    assert counts(summary) == expected(scanned=2, skipped=1)


def test_a_mount_point_is_not_crossed(
    fs: FakeFilesystem,
    root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    media_log: list[str],
) -> None:
    fs.add_mount_point(str(ROOT / "old" / "mnt"))
    inside_mount = make_media_file(ROOT / "old" / "mnt" / "old.png", age=OLD)
    age_entry(ROOT / "old", OLD)
    beside = make_media_file(ROOT / "old.png", age=OLD)

    summary = clean()

    assert inside_mount.exists()
    assert not beside.exists()
    assert media_log == [
        f"WARNING skipping {ROOT}/old/mnt: another filesystem is mounted there",
        f"INFO clean_generated_media summary: {summary.as_dict()}",
    ]  # and its old parent, not empty, is not even tried
    assert counts(summary) == expected(scanned=3, deleted=1, bytes_freed=10, skipped=1)


# --- Errors ----------------------------------------------------------------------------


@as_non_root
def test_permission_error_on_one_file_is_counted_and_the_rest_still_goes(
    root: Path, make_media_file: MakeFile, media_log: list[str]
) -> None:
    locked = make_media_file(root / "locked" / "old.png", age=OLD)
    others = [make_media_file(root / f"old{n}.png", age=OLD) for n in range(3)]
    os.chmod(root / "locked", 0o555)  # readable, but its entries cannot be unlinked

    summary = clean()

    assert locked.exists()
    assert not any(path.exists() for path in others)
    assert f"WARNING cannot delete {ROOT}/locked/old.png: Permission denied" in media_log
    assert counts(summary) == expected(scanned=5, deleted=3, bytes_freed=30, errors=1)


def test_file_removed_between_scan_and_unlink_is_not_an_error(
    root: Path, make_media_file: MakeFile, monkeypatch: pytest.MonkeyPatch, media_log: list[str]
) -> None:
    racer = make_media_file(root / "b-raced.png", age=OLD)
    others = [make_media_file(root / name, age=OLD) for name in ("a.png", "c.png")]
    real_unlink = media.os.unlink

    def unlink_after_someone_else(name: str, *, dir_fd: int) -> None:
        if name == racer.name:
            real_unlink(racer)  # another process got there first
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(media.os, "unlink", unlink_after_someone_else)

    summary = clean()

    assert not racer.exists()
    assert not any(path.exists() for path in others)
    assert not [line for line in media_log if line.startswith("WARNING")]
    assert counts(summary) == expected(scanned=3, deleted=2, bytes_freed=20)


# --- Dry run and summary ---------------------------------------------------------------


@pytest.fixture
def mixed_tree(
    fs: FakeFilesystem, root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    """A tree with something of every kind: old, young, kept, links, special, mounted."""
    make_media_file(root / ".gitkeep", age=timedelta(days=400))
    make_media_file(root / "old.png", age=OLD, size=100)
    make_media_file(root / "young.png", age=YOUNG, size=100)
    make_media_file(root / "x" / "y" / "old.webp", age=timedelta(days=30), size=1000)
    make_media_file(root / "x" / "young.webp", age=timedelta(hours=1), size=1000)
    make_media_file(root / "gone" / "deep" / "old.jpg", age=OLD, size=3)
    for directory in ("x", "x/y", "gone", "gone/deep"):
        age_entry(root / directory, OLD)
    make_media_file(OUTSIDE / "target.png", age=timedelta(days=90))
    (root / "old-link").symlink_to(OUTSIDE / "target.png")
    age_entry(root / "old-link", OLD)
    (root / "old-parent" / "young-child").mkdir(parents=True)  # keeps its old parent
    age_entry(root / "old-parent", OLD)
    fs.create_file(root / "pipe", st_mode=stat.S_IFIFO | 0o600)
    fs.add_mount_point(str(root / "mnt"))
    make_media_file(root / "mnt" / "old.png", age=OLD)


MIXED_TREE_RESULT = expected(
    scanned=15,
    deleted=4,
    bytes_freed=100 + 1000 + 3 + len(str(OUTSIDE / "target.png")),
    dirs_removed=3,  # x/y, gone/deep, gone; x keeps young.webp
    skipped=2,  # the FIFO and the mount point
)


@pytest.mark.usefixtures("mixed_tree")
def test_dry_run_deletes_nothing_and_its_plan_equals_the_real_run() -> None:
    before = tree(ROOT)

    plan = clean(dry_run=True)

    assert tree(ROOT) == before
    assert counts(plan) == {**MIXED_TREE_RESULT, "dry_run": True}

    result = clean()

    assert counts(result) == MIXED_TREE_RESULT
    assert sorted(tree(ROOT)) == [
        ".gitkeep",
        "mnt",
        "mnt/old.png",
        "old-parent",
        "old-parent/young-child",
        "pipe",
        "x",
        "x/young.webp",
        "young.png",
    ]
    assert {**counts(plan), "dry_run": False} == counts(result)


@pytest.mark.usefixtures("mixed_tree")
def test_summary_is_json_with_exactly_the_promised_keys_and_is_logged_once(
    media_log: list[str],
) -> None:
    summary = clean()

    decoded = json.loads(json.dumps(summary.as_dict()))
    assert list(decoded) == [
        "root", "scanned", "deleted", "bytes_freed", "dirs_removed", "skipped", "errors",
        "dry_run", "completed", "duration_s", "root_missing",
    ]  # fmt: skip
    assert isinstance(decoded["duration_s"], float)
    assert decoded["duration_s"] >= 0
    summaries = [line for line in media_log if "clean_generated_media summary" in line]
    assert summaries == [f"INFO clean_generated_media summary: {summary.as_dict()}"]


def test_dry_run_logs_each_file_and_folder_a_real_run_would_remove(
    root: Path, make_media_file: MakeFile, age_entry: AgeEntry, media_log: list[str]
) -> None:
    old = make_media_file(root / "a" / "b" / "old.png", age=OLD)
    for directory in ("a/b", "a"):
        age_entry(root / directory, OLD)
    before = tree(root)

    summary = clean(dry_run=True)

    assert old.exists()
    assert tree(root) == before
    assert [line for line in media_log if line.startswith("DEBUG")] == [
        f"DEBUG would delete {ROOT}/a/b/old.png",
        f"DEBUG would remove directory {ROOT}/a/b",
        f"DEBUG would remove directory {ROOT}/a",
    ]  # the plan an operator reads, bottom-up as a real run removes
    assert counts(summary) == expected(
        scanned=3, deleted=1, bytes_freed=10, dirs_removed=2, dry_run=True
    )
