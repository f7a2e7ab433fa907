"""What one live subscriber received, checked against the writes the server acknowledged.

A write is known by what its writer saw in the answer: a comment by its id; a favorite or an
unfavorite by who made it and which of that person's toggles it was (``n``). Each writer toggles
its favorite on one article and waits for every answer, so its favorite events must arrive in the
order of its answers: a subscriber's stream of one writer's favorite events is matched against the
writer's list in order, by type. The stream as a whole must be in ``seq`` order, each ``seq``
once, and the ``favoritesCount`` each favorite event carries must agree with the events before it
(the article starts with none): an event delivered out of its commit order shows up there too.

Pure functions on plain data, so a test can hand-make a stream with a lost, a repeated or a
swapped event and see each one counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAVORITE_KINDS = ("article.favorited", "article.unfavorited")
NOT_EVENTS = frozenset({"hello", "ping", "pong"})
SAMPLES = 10

Key = tuple[str, str, int]
"""``("comment.created", "<id>", 0)`` or ``("article.favorited", "<username>", n)``."""


def comment_key(comment_id: Any) -> Key:
    return ("comment.created", str(comment_id), 0)


def favorite_key(kind: str, username: str, n: int) -> Key:
    return (kind, username, n)


@dataclass
class Tally:
    """Counts over one subscriber's stream, or summed over many (``add``)."""

    expected: int = 0  # acknowledged writes this subscriber should have seen
    delivered: int = 0  # of those, how many arrived (each counted once)
    lost: int = 0
    duplicated: int = 0  # a seq seen twice, or one write's event under two numbers
    out_of_order: int = 0  # a seq at or below one already received
    unexpected: int = 0  # an event no acknowledged write explains
    count_mismatches: int = 0  # favoritesCount disagrees with the favorite events before it
    early: int = 0  # received before its write's answer arrived (latency counted as 0)
    latencies: dict[Key, float] = field(default_factory=dict)  # seconds from answer to receipt
    samples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.lost + self.duplicated + self.out_of_order + self.unexpected + self.count_mismatches

    def note(self, text: str) -> None:
        if len(self.samples) < SAMPLES:
            self.samples.append(text)

    def add(self, other: Tally) -> None:
        for name in ("expected", "delivered", "lost", "duplicated", "out_of_order", "unexpected",
                     "count_mismatches", "early"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for text in other.samples:
            self.note(text)


def _favorite_lists(writes: dict[Key, float]) -> dict[str, list[Key]]:
    """Each writer's favorite writes in the order of its answers."""
    lists: dict[str, list[Key]] = {}
    for key in writes:
        if key[0] in FAVORITE_KINDS:
            lists.setdefault(key[1], []).append(key)
    for keys in lists.values():
        keys.sort(key=lambda k: k[2])
    return lists


def check_stream(name: str, hello_seq: int, stream: list[tuple[float, Any]],
                 writes: dict[Key, float]) -> Tally:
    """One subscriber: ``stream`` is (receive time, decoded message) in arrival order, ``writes``
    every acknowledged write's key and answer time (the same clock). ``hello_seq``: where the
    subscriber's stream started (every write was made after it connected)."""
    tally = Tally(expected=len(writes))
    favorites = _favorite_lists(writes)
    next_favorite: dict[str, int] = {}
    favorited: set[str] = set()
    seen: set[int] = set()
    last = hello_seq
    for received, message in stream:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind in NOT_EVENTS:
            continue
        seq = message.get("seq") if isinstance(message, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool):
            tally.unexpected += 1
            tally.note(f"{name}: not an event: {str(message)[:120]}")
            continue
        if seq in seen:
            tally.duplicated += 1
            tally.note(f"{name}: seq {seq} ({kind}) received twice")
            continue
        seen.add(seq)
        if seq <= last:
            tally.out_of_order += 1
            tally.note(f"{name}: seq {seq} ({kind}) after seq {last}")
        last = max(last, seq)
        key = _identify(message, kind, favorites, next_favorite)
        if kind in FAVORITE_KINDS:
            _check_count(name, message, kind, favorited, tally)
        if key is None or key not in writes:
            tally.unexpected += 1
            tally.note(f"{name}: seq {seq} ({kind}) matches no acknowledged write")
            continue
        if key in tally.latencies:
            tally.duplicated += 1
            tally.note(f"{name}: write {key} arrived twice (seq {seq} is the second)")
            continue
        latency = received - writes[key]
        if latency < 0:
            tally.early += 1
            latency = 0.0
        tally.latencies[key] = latency
    tally.delivered = len(tally.latencies)
    tally.lost = len(writes) - tally.delivered
    if tally.lost:
        missing = sorted(set(writes) - set(tally.latencies))
        tally.note(f"{name}: {tally.lost} write(s) never arrived, e.g. {missing[:3]}")
    return tally


def _identify(message: dict[str, Any], kind: Any, favorites: dict[str, list[Key]],
              next_favorite: dict[str, int]) -> Key | None:
    try:
        if kind == "comment.created":
            return comment_key(message["comment"]["id"])
        if kind in FAVORITE_KINDS:
            who = str(message["by"]["username"])
            expected, index = favorites.get(who, []), next_favorite.get(who, 0)
            while index < len(expected) and expected[index][0] != kind:
                index += 1  # skipped: lost (counted at the end as never delivered)
            if index == len(expected):
                return None
            next_favorite[who] = index + 1
            return expected[index]
    except (KeyError, TypeError):
        return None
    return None


def _check_count(name: str, message: dict[str, Any], kind: str, favorited: set[str],
                 tally: Tally) -> None:
    try:
        who, count = message["by"]["username"], message["article"]["favoritesCount"]
    except (KeyError, TypeError):
        return
    if kind == "article.favorited":
        favorited.add(who)
    else:
        favorited.discard(who)
    if count != len(favorited):
        tally.count_mismatches += 1
        tally.note(f"{name}: seq {message.get('seq')} says favoritesCount {count}, the events "
                   f"before it make {len(favorited)}")
