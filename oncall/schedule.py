"""Who is on call, as pure functions over plans (rotation versions) and covers (overrides); no database here.

A rotation's history is a list of plans, each in force from its `effective_from` until the next one starts. Inside
a plan, the shared time engine (`portal.scheduling`) cuts time into shifts at the handoffs, and shift `index` goes
to participant `index % len(participants)`. Covers replace whoever the plans name for their span. All shift and DST
arithmetic is the engine's; this module only splices spans.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from math import lcm
from typing import Generic, TypeVar

from portal.scheduling import Recurrence, Span, shifts_between

P = TypeVar("P", bound=Hashable)

PRIMARY, SECONDARY = "primary", "secondary"
LAYERS = (PRIMARY, SECONDARY)
# The smallest step of a datetime: [at, at + INSTANT) holds exactly the instant `at`.
INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, kw_only=True)
class Plan(Generic[P]):
    """One rotation version: handoffs, the ordered primary participants and, optionally, a secondary order."""

    effective_from: datetime
    handoffs: Recurrence
    primary: tuple[P, ...]
    secondary: tuple[P, ...] = ()

    def person(self, layer: str, index: int) -> P | None:
        """Who holds `layer` in shift `index`. Without a secondary order the secondary is the next primary
        participant, so a rotation of one has no secondary."""
        if layer == PRIMARY:
            return self.primary[index % len(self.primary)] if self.primary else None
        if self.secondary:
            return self.secondary[index % len(self.secondary)]
        if len(self.primary) < 2:
            return None
        return self.primary[(index + 1) % len(self.primary)]


@dataclass(frozen=True, kw_only=True)
class Cover(Generic[P]):
    """An override: `person` holds `layer` for [start, end), whatever the plan says."""

    layer: str
    person: P
    start: datetime
    end: datetime
    ref: int | None = None  # the override's id, carried through to the segments it produces


@dataclass(frozen=True, kw_only=True)
class Segment(Span, Generic[P]):
    """A span in which one person holds a layer. `shift_index` is set when the plan put them there, `cover` when
    an override did."""

    layer: str
    person: P
    shift_index: int | None = None
    cover: int | None = None

    @property
    def is_override(self) -> bool:
        return self.cover is not None


@dataclass(frozen=True, kw_only=True)
class Takeover(Generic[P]):
    """The instant a layer changes hands: from `outgoing` (None after a gap) to `incoming`, who holds it `until`."""

    layer: str
    at: datetime
    outgoing: P | None
    incoming: P
    until: datetime


def other_layer(layer: str) -> str:
    return SECONDARY if layer == PRIMARY else PRIMARY


def paired_with_themselves(primary: Sequence[P], secondary: Sequence[P]) -> P | None:
    """Someone the two orders put on both layers in one shift, or None. Shift n pairs primary[n % len(primary)]
    with secondary[n % len(secondary)], so every pairing shows within lcm(len(primary), len(secondary)) shifts.
    Sharing people is not itself a fault: without a secondary order the secondary is the next primary participant."""
    if not primary or not secondary:
        return None
    return next(
        (
            primary[n % len(primary)]
            for n in range(lcm(len(primary), len(secondary)))
            if primary[n % len(primary)] == secondary[n % len(secondary)]
        ),
        None,
    )


def _plan_spans(plans: Sequence[Plan[P]]) -> list[tuple[Plan[P], datetime | None]]:
    """Each plan with the instant the next one replaces it (None: still in force)."""
    ordered = sorted(plans, key=lambda plan: plan.effective_from)
    ends: list[datetime | None] = [following.effective_from for following in ordered[1:]]
    return list(zip(ordered, [*ends, None], strict=True))


def plan_at(plans: Sequence[Plan[P]], *, at: datetime) -> Plan[P] | None:
    """The plan in force at `at`: the last one that took effect at or before it."""
    in_force = [plan for plan in plans if plan.effective_from <= at]
    return max(in_force, key=lambda plan: plan.effective_from, default=None)


def planned_segments(plans: Sequence[Plan[P]], *, layer: str, start: datetime, end: datetime) -> list[Segment[P]]:
    """The plans' segments (overrides ignored) that start in [start, end) or run at `start`, in order.

    A shift is cut where a newer plan takes effect: the plan in force at each instant decides who is on call.
    """
    found: list[Segment[P]] = []
    for plan, replaced_at in _plan_spans(plans):
        window_start = max(start, plan.effective_from)
        window_end = end if replaced_at is None else min(end, replaced_at)
        if window_end <= window_start:
            continue
        for shift in shifts_between(plan.handoffs, start=window_start, end=window_end):
            person = plan.person(layer, shift.index)
            shift_end = shift.end if replaced_at is None else min(shift.end, replaced_at)
            if person is not None:
                found.append(
                    Segment(
                        layer=layer,
                        person=person,
                        start=max(shift.start, plan.effective_from),
                        end=shift_end,
                        shift_index=shift.index,
                    )
                )
    return found


def _without(segment: Segment[P], covers: Sequence[Cover[P]]) -> list[Segment[P]]:
    """What is left of `segment` outside the covers (which never overlap one another on a layer)."""
    pieces, cursor = [], segment.start
    for cover in sorted(covers, key=lambda cover: cover.start):
        if cover.end <= cursor or cover.start >= segment.end:
            continue
        if cover.start > cursor:
            pieces.append((cursor, cover.start))
        cursor = max(cursor, cover.end)
    if cursor < segment.end:
        pieces.append((cursor, segment.end))
    return [
        Segment(layer=segment.layer, person=segment.person, start=piece_start, end=piece_end,
                shift_index=segment.shift_index)
        for piece_start, piece_end in pieces
    ]  # fmt: skip


def segments_between(
    plans: Sequence[Plan[P]], covers: Sequence[Cover[P]], *, layer: str, start: datetime, end: datetime
) -> list[Segment[P]]:
    """Who holds `layer`, overrides applied: the segments that start in [start, end) or run at `start`, in order."""
    layer_covers = [cover for cover in covers if cover.layer == layer]
    segments = [
        piece
        for segment in planned_segments(plans, layer=layer, start=start, end=end)
        for piece in _without(segment, layer_covers)
    ]
    segments += [
        Segment(layer=layer, person=cover.person, start=cover.start, end=cover.end, cover=cover.ref)
        for cover in layer_covers
    ]
    return sorted(
        (segment for segment in segments if segment.start < end and segment.end > start),
        key=lambda segment: segment.start,
    )


def segment_at(plans: Sequence[Plan[P]], covers: Sequence[Cover[P]], *, layer: str, at: datetime) -> Segment[P] | None:
    """The segment holding `layer` at the instant `at`, or None when nobody does."""
    return next(
        (seg for seg in segments_between(plans, covers, layer=layer, start=at, end=at + INSTANT) if at in seg), None
    )


def planned_shift_at(plans: Sequence[Plan[P]], *, layer: str, at: datetime) -> Segment[P] | None:
    """The planned (override-free) segment running at `at`: what a swap trades."""
    return next((seg for seg in planned_segments(plans, layer=layer, start=at, end=at + INSTANT) if at in seg), None)


def joined(segments: Sequence[Segment[P]]) -> list[Segment[P]]:
    """Back-to-back planned segments of one person as one (a daily rotation of one person is one long stretch);
    overrides stay apart so they can be shown as such."""
    found: list[Segment[P]] = []
    for segment in segments:
        last = found[-1] if found else None
        if (
            last is not None
            and last.end == segment.start
            and last.person == segment.person
            and last.cover is None
            and segment.cover is None
        ):
            found[-1] = replace(last, end=segment.end)
        else:
            found.append(segment)
    return found


def held_by(segments: Sequence[Segment[P]], *, person: P, start: datetime, end: datetime) -> list[Span]:
    """The stretches of [start, end) in which `person` holds the layer of `segments` (in order), back to back as
    one."""
    found: list[Span] = []
    for segment in segments:
        if segment.person != person or segment.end <= start or segment.start >= end:
            continue
        piece = Span(start=max(segment.start, start), end=min(segment.end, end))
        if found and found[-1].end == piece.start:
            found[-1] = Span(start=found[-1].start, end=piece.end)
        else:
            found.append(piece)
    return found


def takeovers(segments: Sequence[Segment[P]], *, after: datetime) -> list[Takeover[P]]:
    """Where the layer changes hands strictly after `after`, in order, given the segments from `after` on.

    Back-to-back segments of one person are one stretch on call; a segment after a gap is taken over from nobody.
    """
    stretches: list[tuple[Segment[P], datetime, P | None]] = []  # (first segment, end, person before it)
    previous: Segment[P] | None = None
    for current in segments:
        contiguous = previous is not None and previous.end == current.start
        if contiguous and previous is not None and previous.person == current.person:
            first, _, before = stretches[-1]
            stretches[-1] = (first, current.end, before)
        else:
            stretches.append((current, current.end, previous.person if contiguous and previous is not None else None))
        previous = current
    return [
        Takeover(layer=first.layer, at=first.start, outgoing=before, incoming=first.person, until=until)
        for first, until, before in stretches
        if first.start > after
    ]
