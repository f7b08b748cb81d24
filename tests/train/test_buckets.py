"""Bucket table and samplers: token budget, coverage, determinism, rank partition, weights."""

from collections import Counter

import pytest

from kinema.train.buckets import Bucket, BucketBatchSampler, BucketStream, BucketTable, batch_size


def dataset(table: BucketTable, per_bucket: int = 7) -> list[Bucket]:
    return [b for b in table for _ in range(per_bucket)]


def test_world_table_spans_shared_world_md() -> None:
    table = BucketTable.world()
    assert len(table) == 15 * 15 * 17
    assert table.sizes()[0] == (32, 32) and table.sizes()[-1] == (256, 256)
    assert table.durations() == tuple(range(1, 66, 4))
    # 256x256x65: 17 latent frames of 32x32 latents in 2x2 patches.
    assert Bucket(65, 256, 256).tokens() == 17 * 16 * 16
    assert Bucket(33, 64, 64).tokens() == 144  # the default clip of the shipped model
    assert all(b.tokens() <= 576 for b in BucketTable.preset("world-small"))


def test_bad_buckets_and_presets_are_named() -> None:
    with pytest.raises(ValueError, match="frames 4"):
        Bucket(4, 64, 64)
    with pytest.raises(ValueError, match="width 70"):
        Bucket(9, 64, 70)
    with pytest.raises(ValueError, match="preset 'huge'"):
        BucketTable.preset("huge")
    with pytest.raises(ValueError, match="WIDTHxHEIGHTxFRAMES"):
        Bucket.parse("64x64")
    assert Bucket.parse("96x64x33") == Bucket(33, 64, 96)


def test_nearest_bucket_keeps_aspect_never_upscales_and_fits_duration() -> None:
    table = BucketTable.preset("video")
    assert table.nearest(1920, 1080, 100) == Bucket(33, 128, 224)  # 16:9, largest, 4 s
    assert table.nearest(100, 70, 100) == Bucket(33, 64, 96)  # 3:2 but too small for 192x128
    assert table.nearest(720, 1280, 12) == Bucket(9, 192, 128)  # portrait; 12 frames -> 9
    assert table.nearest(50, 50, 40) == Bucket(33, 64, 64)  # smaller than all: the smallest square
    assert table.nearest(64, 64, 0) is None  # no frames at all


def test_batches_respect_the_token_budget_and_cover_every_bucket() -> None:
    table = BucketTable.preset("world-small")
    items = dataset(table, 3)
    sampler = BucketBatchSampler(items, token_budget=576, max_batch=32)
    batches = sampler.batches(0)
    for batch in batches:
        bucket = items[batch[0]]
        assert all(items[i] == bucket for i in batch)  # one bucket per batch
        assert len(batch) == 1 or len(batch) * bucket.tokens() <= 576
        assert len(batch) <= batch_size(bucket, 576, 32)
    seen = Counter(i for batch in batches for i in batch)
    assert set(seen) == set(range(len(items))) and set(seen.values()) == {1}  # each item once
    assert {items[b[0]] for b in batches} == set(table)


def test_epochs_are_deterministic_by_seed_and_differ_between_epochs() -> None:
    items = dataset(BucketTable.preset("shipped"))
    a = BucketBatchSampler(items, 576, seed=3)
    b = BucketBatchSampler(items, 576, seed=3)
    assert a.batches(0) == b.batches(0)
    assert a.batches(0) != a.batches(1)
    assert a.batches(0) != BucketBatchSampler(items, 576, seed=4).batches(0)
    a.set_epoch(1)
    assert list(a) == a.batches(1) and len(a) == len(a.batches(1))


def test_ranks_partition_the_batches() -> None:
    items = dataset(BucketTable.preset("shipped"), 5)
    full = BucketBatchSampler(items, 576, seed=1, drop_last=True)
    ranks = [BucketBatchSampler(items, 576, seed=1, rank=r, world_size=3, drop_last=True) for r in range(3)]
    per_rank = [r.batches(0) for r in ranks]
    assert len({len(b) for b in per_rank}) == 1  # the same number of steps on every rank
    flat = [i for batches in per_rank for batch in batches for i in batch]
    assert len(flat) == len(set(flat))  # no item on two ranks
    kept = full.global_batches(0)[: 3 * len(per_rank[0])]
    assert sorted(flat) == sorted(i for batch in kept for i in batch)
    # Without drop_last the ranks are padded by wrapping around: every item is seen.
    padded = [BucketBatchSampler(items, 576, seed=1, rank=r, world_size=3).batches(0) for r in range(3)]
    assert len({len(b) for b in padded}) == 1
    assert {i for batches in padded for batch in batches for i in batch} == set(range(len(items)))


def test_weights_repeat_or_thin_buckets() -> None:
    table = BucketTable.preset("shipped")
    items = dataset(table, 10)
    heavy, light, gone = Bucket(33, 64, 64), Bucket(1, 64, 96), Bucket(9, 64, 112)
    sampler = BucketBatchSampler(items, 576, weights={heavy: 2.0, light: 0.5, gone: 0.0})
    counts = Counter(items[i] for batch in sampler.batches(0) for i in batch)
    assert counts[heavy] == 20 and counts[light] == 5 and gone not in counts
    assert counts[Bucket(17, 64, 64)] == 10
    with pytest.raises(ValueError, match="weight -1"):
        BucketBatchSampler(items, 576, weights={heavy: -1})
    with pytest.raises(ValueError, match="rank 3"):
        BucketBatchSampler(items, 576, rank=3, world_size=2)


def test_stream_is_pure_per_step_and_rank_and_visits_all_buckets() -> None:
    table = BucketTable.preset("shipped")
    stream = BucketStream(table, token_budget=2304, seed=2)
    first = [stream.at(step)[:2] for step in range(400)]
    assert first == [stream.at(step)[:2] for step in range(400)]
    assert {bucket for bucket, _ in first} == set(table)
    assert all(size == batch_size(bucket, 2304) for bucket, size in first)
    assert [stream.at(s, rank=1)[0] for s in range(20)] != [stream.at(s, rank=0)[0] for s in range(20)]


def test_world_stream_over_every_world_grid_with_a_token_budget() -> None:
    from kinema.train.data import WorldData, world_batch

    data = WorldData.from_table(BucketTable.world(), token_budget=64, max_batch=8, seed=1)
    assert len(data.buckets) == 3825
    sizes = set()
    for step in range(3):
        batch = world_batch(step, data, with_captions=False)
        _, _, frames, height, width = batch.pixels.shape
        assert len(batch) == batch_size(Bucket(frames, height, width), 64, 8)
        sizes.add((width, height, frames))
    assert len(sizes) == 3  # different grids step by step
    assert WorldData().batch_size(64, 64, 33) == 8  # without a token budget: the pixel budget, as before
