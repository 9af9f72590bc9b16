"""SeenRecords: the filter behind the loop guard remembers every pair it was given, mistakes few new ones for
known ones, and holds memory in proportion to the pairs.

The guard calls a chain a loop after pages that bring nothing new, so the filter must never forget a pair
(a loop would go unnoticed) and must seldom take a new pair for a known one (a sync would be stopped for
nothing only if every record of many pages in a row were so mistaken). It is a scalable Bloom filter:
layers of 2^20 bits, then twice as many each time one holds a pair per 16 bits, up to 2^26. These are
pinned on 200,000 pairs, with the counts a Bloom filter of four probes gives.
"""

import math

from fpr.paging import SeenRecords

PAIRS = [{"record_id": f"{number:08x}-rec", "last_updated_epoch": 1748797200 + number % 7} for number in range(200_000)]


def layer_sizes(seen):
    return [len(layer) for layer in seen._layers]


def bits_set(layer):
    return sum(bin(byte).count("1") for byte in layer)


def test_no_pair_is_ever_forgotten_and_at_most_1_in_200_new_pairs_is_taken_for_known():
    seen = SeenRecords()

    taken_for_known = sum(not seen.add([pair]) for pair in PAIRS)

    assert taken_for_known <= len(PAIRS) // 200
    assert not any(seen.add([pair]) for pair in PAIRS)  # none forgotten


def test_memory_grows_in_layers_that_double_when_each_holds_a_pair_per_16_bits():
    seen = SeenRecords()
    assert layer_sizes(seen) == [128 * 1024]

    seen.add(PAIRS[:60_000])  # 2^20 bits hold 65,536 pairs
    assert layer_sizes(seen) == [128 * 1024]

    seen.add(PAIRS[60_000:100_000])
    assert layer_sizes(seen) == [128 * 1024, 256 * 1024]  # 384 KiB for a sync of 100,000 records

    seen.add(PAIRS[100_000:])  # 65,536 + 131,072 pairs fill the first two
    assert layer_sizes(seen) == [128 * 1024, 256 * 1024, 512 * 1024]


def test_the_layers_stop_growing_at_the_largest_size_and_the_last_keeps_filling():
    class Small(SeenRecords):
        FIRST_BITS, LAST_BITS = 1 << 10, 1 << 12

    seen = Small()
    seen.add(PAIRS[:20_000])

    assert layer_sizes(seen) == [128, 256, 512]
    assert not any(seen.add([pair]) for pair in PAIRS[:20_000])  # saturated, it still forgets nothing


def test_a_layer_is_added_on_the_very_pair_that_fills_the_last_to_one_per_16_bits():
    class Small(SeenRecords):
        FIRST_BITS, LAST_BITS = 1 << 10, 1 << 12  # 1,024 bits hold 64 pairs, the next 2,048 bits 128 more

    seen, new_pairs, grown_at = Small(), 0, []
    for pair in PAIRS[:1_000]:
        layers = len(seen._layers)
        new_pairs += seen.add([pair])  # a pair taken for known is not put in, so it does not count
        if len(seen._layers) > layers:
            grown_at.append(new_pairs)

    assert grown_at == [64, 192]


def test_each_pair_sets_four_bits_of_its_own_spread_over_the_whole_layer():
    seen = SeenRecords()
    for start in range(0, 60_000, 200):
        seen.add(PAIRS[start : start + 200])

    # A Bloom filter of m bits given k*n bits at random has m * (1 - exp(-k*n/m)) of them set.
    bits, probes = 1 << 20, 4
    expected = bits * (1 - math.exp(-probes * 60_000 / bits))
    assert abs(bits_set(seen._layers[0]) - expected) <= 0.005 * expected
    first_half = bits_set(seen._layers[0][: len(seen._layers[0]) // 2])
    assert abs(first_half - expected / 2) <= 0.01 * expected


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
