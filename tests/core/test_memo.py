"""portal.memo: a block of work reads repeated configuration once."""

from portal.memo import memo, memoized

reads: list[tuple[str, int]] = []


@memo
def read(name: str, *, version: int = 1) -> list[str]:
    reads.append((name, version))
    return [name]


def setup_function():
    reads.clear()


def test_outside_a_block_every_call_reads():
    assert read("a") == read("a") == ["a"]

    assert reads == [("a", 1), ("a", 1)]


def test_inside_a_block_the_same_arguments_read_once_and_share_the_answer():
    with memoized():
        first = read("a")
        assert read("a") is first
        assert read("a", version=2) == ["a"]
        assert read("b") == ["b"]
        with memoized():  # a nested block shares the outer one's answers
            assert read("a") is first

    assert reads == [("a", 1), ("a", 2), ("b", 1)]


def test_a_block_forgets_its_answers_when_it_ends():
    with memoized():
        read("a")
    with memoized():
        read("a")
    read("a")

    assert reads == [("a", 1)] * 3
