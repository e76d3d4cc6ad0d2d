"""TarStream against real Go archive/tar: the same members and bytes, or TarStream says inconclusive."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential.oracle import Listing, Ours, agree, go_list, ours
from tests.differential.tarcraft import (
    CHECKSUM_STYLES,
    MAGICS,
    NUMBER_STYLES,
    Header,
    end,
    extension,
    member,
    pax,
    seed_archives,
)
from tests.fuzz.mutate import mutated


def both(gotar: Path, archives: list[bytes]) -> list[tuple[Listing, Ours]]:
    pairs = list(zip(go_list(gotar, archives), map(ours, archives), strict=True))
    for index, (go, mine) in enumerate(pairs):
        problem = agree(go, mine)
        assert problem is None, f"archive {index}: {problem}"
    return pairs


def names(listing: Listing) -> list[bytes]:
    return [e.name for e in listing.entries]


# -- the three differences named in issue 14 ----------------------------------------------------


def test_size_with_leading_nul_is_read_as_go_reads_it(gotar: Path) -> None:
    data = b"SECRET=fake-0123456789"
    archive = member(Header(b"f", size=len(data), size_style="leading-nul"), data) + end()
    # tarfile reads the size as 0, so the data would be parsed as the next header.
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r|") as tar:
        assert [m.size for m in tar] == [0]
    [(go, mine)] = both(gotar, [archive])
    assert go.error is None and [e.size for e in go.entries] == [len(data)]
    assert mine.inconclusive is None and mine.listing == go


def test_two_local_pax_headers_that_disagree_are_inconclusive(gotar: Path) -> None:
    body = b"fake"
    archive = (
        pax({b"path": b"first"}) + pax({b"path": b"second"}) + member(Header(b"h", size=4), body) + end()
    )
    [(go, mine)] = both(gotar, [archive])
    assert names(go) == [b"second"]  # Go: only the last local header counts (tarfile: "first")
    assert mine.inconclusive is not None and "disagree" in mine.inconclusive


def test_two_local_pax_headers_that_agree_are_read_as_go_does(gotar: Path) -> None:
    archive = pax({b"comment": b"x"}) + pax({b"path": b"p"}) + member(Header(b"h", size=1), b"1") + end()
    [(go, mine)] = both(gotar, [archive])
    assert names(go) == [b"p"] and mine.inconclusive is None and mine.listing == go


def test_global_header_with_size_or_path_is_inconclusive(gotar: Path) -> None:
    body = b"y" * 600
    for records in ({b"size": b"0"}, {b"path": b"elsewhere"}):
        archive = pax(records, b"g") + member(Header(b"m", size=len(body)), body) + end()
        [(go, mine)] = both(gotar, [archive])
        # Go lists the global header as an entry of its own and applies it to nothing.
        assert [e.type for e in go.entries] == [ord("g"), ord("0")]
        assert go.entries[1].name == b"m" and go.entries[1].size == 600
        assert mine.inconclusive is not None and "global" in mine.inconclusive


def test_global_header_with_a_comment_is_an_entry_of_its_own(gotar: Path) -> None:
    archive = pax({b"comment": b"commit 1234"}, b"g") + member(Header(b"m", size=2), b"ok") + end()
    [(go, mine)] = both(gotar, [archive])
    assert mine.inconclusive is None and mine.listing == go and len(go.entries) == 2


# -- the other rules of Go's reader ---------------------------------------------------------------


def test_end_of_archive_rules(gotar: Path) -> None:
    one = member(Header(b"a", size=1), b"1")
    two = member(Header(b"b", size=1), b"2")
    cases = {
        "two zero blocks": one + end(2),
        "one zero block then EOF": one + end(1),
        "one zero block then a header": one + end(1) + two + end(),
        "one zero block then half a block": one + end(1) + bytes(100),
        "EOF in the padding": one[:600],
        "no end blocks": one,
    }
    pairs = dict(zip(cases, both(gotar, list(cases.values())), strict=True))
    assert pairs["two zero blocks"][1].inconclusive is None
    assert pairs["one zero block then EOF"][0].error is None
    assert pairs["one zero block then EOF"][1].inconclusive is None
    for bad in ("one zero block then a header", "one zero block then half a block"):
        assert pairs[bad][0].error is not None and pairs[bad][1].inconclusive is not None
    # Go ends cleanly without an end block; imgscan still calls it possibly truncated.
    for short in ("EOF in the padding", "no end blocks"):
        assert pairs[short][0].error is None
        assert pairs[short][1].listing.entries == pairs[short][0].entries
        assert pairs[short][1].inconclusive == "no end-of-archive block"


def test_odd_but_valid_numbers_are_read_as_go_reads_them(gotar: Path) -> None:
    archives = []
    for style in ("leading-nul", "leading-space", "space-nul", "nul-junk", "base256", "base256-wide"):
        data = b"d" * 700
        # 0x81 then 11 more bytes overflows 64 bits: base256-wide only fits the 8-byte mode field.
        size_style = "octal" if style == "base256-wide" else style
        head = Header(b"n-" + style.encode(), size=len(data), size_style=size_style, mode_style=style)
        archives.append(member(head, data) + end())
    archives.append(member(Header(b"neg", b"2", size=5, size_style="base256-negative"), b"") + end())
    for go, mine in both(gotar, archives):
        assert go.error is None and mine.inconclusive is None and mine.listing == go


def test_invalid_numbers_and_checksums_are_errors_in_both(gotar: Path) -> None:
    archives = [
        member(Header(b"u", uid=5, uid_style="odd-digit"), b"") + end(),
        member(Header(b"s", size=30, size_style="inner-space"), b"a" * 30) + end(),
        member(Header(b"o", size=2**40, size_style="base256-wide"), b"") + end(),
        member(Header(b"p", mode_style="plus"), b"") + end(),
        member(Header(b"c", checksum="base256"), b"") + end(),
        member(Header(b"w", checksum="wrong"), b"") + end(),
        member(Header(b"neg", size=5, size_style="base256-negative"), b"") + end(),
    ]
    for go, mine in both(gotar, archives):
        assert go.error is not None and mine.inconclusive is not None


def test_prefix_is_read_only_where_go_reads_it(gotar: Path) -> None:
    archives = [
        member(Header(b"name", magic=magic, prefix=b"pre/fix"), b"") + end()
        for magic in ("ustar", "gnu", "star", "v7", "gnu-bad-version")
    ]
    # A GNU header's atime and ctime sit where ustar has the prefix: valid times, no prefix.
    archives.append(member(Header(b"name", magic="gnu", gnu_times=b"%011o\0" % 5 * 2), b"") + end())
    pairs = both(gotar, archives)
    # "pre/fix" is no valid GNU atime, so Go takes it for a prefix written by a buggy GNU writer.
    expected = [b"pre/fix/name"] * 3 + [b"name"] * 3
    assert [name for go, _ in pairs for name in names(go)] == expected
    assert all(mine.inconclusive is None for _, mine in pairs)


def test_gnu_long_name_wins_over_pax_path_only_when_they_agree(gotar: Path) -> None:
    agreeing = pax({b"path": b"long"}) + extension(b"L", b"long\0") + member(Header(b"x"), b"") + end()
    differing = pax({b"path": b"pax"}) + extension(b"L", b"gnu\0") + member(Header(b"x"), b"") + end()
    (go1, mine1), (go2, mine2) = both(gotar, [agreeing, differing])
    assert names(go1) == [b"long"] and mine1.listing == go1
    assert names(go2) == [b"gnu"] and mine2.inconclusive is not None


def test_aregtype_directory_is_decided_on_the_final_name(gotar: Path) -> None:
    body = b"z" * 512
    plain = member(Header(b"dir/", b"\0", size=0), b"") + end()
    renamed = pax({b"path": b"file"}) + member(Header(b"dir/", b"\0", size=512), body) + end()
    (go1, mine1), (go2, mine2) = both(gotar, [plain, renamed])
    assert [e.type for e in go1.entries] == [ord("5")] and mine1.listing == go1
    assert [e.type for e in go2.entries] == [ord("0")] and mine2.inconclusive is not None


# -- generated odd streams -----------------------------------------------------------------------

_segment = st.sampled_from([b"a", b"etc", b"x" * 60, b"caf\xc3\xa9", b"bad\xff", b".wh.gone", b""])
_name = st.lists(_segment, min_size=1, max_size=3).map(b"/".join) | st.just(b"dir/")
_odd_values = [b"+3", b"-1", b"05", b" 5", b"abc", b"", b"99999999999999999999"]
_value = st.sampled_from([b"5", b"0", b"12"] * 5 + _odd_values)
_pax_records = st.dictionaries(
    st.sampled_from([b"path", b"linkpath", b"size", b"mtime", b"uid", b"comment", b"GNU.sparse.major"]),
    _value | _name,
    max_size=3,
)


# Mostly the usual encoding, so that many streams are valid and the listings are really compared.
_number_style = st.sampled_from(("octal",) * 80 + NUMBER_STYLES)


@st.composite
def _piece(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["file"] * 6 + ["link", "link", "pax", "global", "long", "zero", "raw-pax"]))
    if kind == "pax" or kind == "global":
        return pax(draw(_pax_records), b"x" if kind == "pax" else b"g")
    if kind == "raw-pax":
        return extension(b"x", draw(st.binary(max_size=40)))
    if kind == "long":
        long = draw(_name) + draw(st.sampled_from([b"\0", b""]))
        return extension(draw(st.sampled_from([b"L", b"K"])), long)
    if kind == "zero":
        return end(1)
    # Header-only types (links, dirs, devices) own no data, whatever their size field says.
    data = draw(st.binary(max_size=1100)) if kind == "file" else b""
    size = len(data) + draw(st.sampled_from([0] * 20 + [1, -1, 512, 10**6]))
    types = [b"0"] * 6 + [b"\0", b"7", b"A", b"S"] if kind == "file" else [b"1", b"2", b"3", b"4", b"5", b"6"]
    head = Header(
        draw(_name),
        draw(st.sampled_from(types)),
        size=max(size, 0),
        size_style=draw(_number_style),
        mode_style=draw(_number_style),
        uid=draw(st.sampled_from([0, 1000, 2**21 + 5])),
        uid_style=draw(_number_style),
        linkname=draw(_name) if kind == "link" else b"",
        magic=draw(st.sampled_from(sorted(MAGICS))),
        prefix=draw(st.sampled_from([b"", b"", b"pre"])),
        checksum=draw(st.sampled_from(("standard",) * 40 + CHECKSUM_STYLES)),
    )
    return member(head, data)


@st.composite
def _archive(draw: st.DrawFn) -> bytes:
    data = b"".join(draw(st.lists(_piece(), min_size=1, max_size=5)))
    data += draw(st.sampled_from([end(2)] * 6 + [end(1), b"", end(2) + b"trailing junk"]))
    if draw(st.integers(0, 19)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archives=st.lists(_archive(), min_size=1, max_size=8))
def test_generated_streams_agree_with_go_or_are_inconclusive(gotar: Path, archives: list[bytes]) -> None:
    both(gotar, archives)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archives=st.lists(mutated(seed_archives()), min_size=10, max_size=10))
def test_mutated_archives_agree_with_go_or_are_inconclusive(gotar: Path, archives: list[bytes]) -> None:
    # Byte flips, cuts and splices of valid tars: the odd headers no generator thought of.
    both(gotar, archives)


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_ordinary_archives_are_read_conclusively_as_go_reads_them(gotar: Path, fmt: int) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for index, name in enumerate(["etc/a", "d" * 120 + "/long-name", "caf\u00e9", "l/" * 40]):
            info = tarfile.TarInfo(name)
            info.size = index * 300
            tar.addfile(info, io.BytesIO(b"%d" % index * info.size))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "t" * 90
        tar.addfile(link)
    [(go, mine)] = both(gotar, [buf.getvalue()])
    assert go.error is None and mine.inconclusive is None and len(go.entries) == 5
