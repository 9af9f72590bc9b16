"""SeenRecords: the fixed-size filter behind the loop guard remembers every pair it was given and mistakes
almost none for new ones.

The guard calls a chain a loop after pages that bring nothing new, so the filter must never forget a pair
(a loop would go unnoticed) and must barely ever take a new pair for a known one (a sync would be stopped
for nothing). Both are pinned here on 200,000 pairs, far beyond any page, with exact counts of the bits
the filter sets: each new pair sets four bits of its own, with only chance collisions between pairs.
"""

from fpr.paging import SeenRecords

PAIRS = [{"record_id": f"{number:08x}-rec", "last_updated_epoch": 1748797200 + number % 7} for number in range(200_000)]


def bits_set(seen):
    return sum(bin(byte).count("1") for byte in seen._bits)


def test_every_new_pair_is_new_and_every_pair_added_again_is_known():
    seen = SeenRecords()

    new = [seen.add([pair]) for pair in PAIRS]

    assert all(new)  # no new pair taken for a known one, at 200,000 pairs
    assert not any(seen.add([pair]) for pair in PAIRS)  # none forgotten


def test_each_pair_sets_four_bits_of_its_own():
    seen = SeenRecords()
    for start in range(0, len(PAIRS), 200):
        seen.add(PAIRS[start : start + 200])

    # 800,000 bits asked for in 67,108,864: about 4,800 land on a bit already set by another pair.
    assert 4 * len(PAIRS) * 0.99 <= bits_set(seen) <= 4 * len(PAIRS)


def test_a_page_is_new_when_one_of_its_pairs_is():
    seen = SeenRecords()
    seen.add(PAIRS[:10])

    assert seen.add(PAIRS[:9] + [PAIRS[10]]) is True
    assert seen.add(PAIRS[:11]) is False
    assert seen.add([]) is False


def test_the_same_record_with_another_epoch_is_a_new_pair():
    seen = SeenRecords()
    seen.add([{"record_id": "a", "last_updated_epoch": 1}])

    assert seen.add([{"record_id": "a", "last_updated_epoch": 2}]) is True
    assert seen.add([{"record_id": "b", "last_updated_epoch": 1}]) is True
