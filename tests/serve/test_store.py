"""The job store on SQLite and on a real PostgreSQL server: keys, quotas, pagination, claims,
leases and conditional completion (a job completes once; a stale worker changes nothing)."""

from __future__ import annotations

import threading

import pytest

from kinema.serve.store import NewJob, QuotaExceeded, Store, api_keys, hash_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def job(key_id: str, prompt: str = "a red ball bounces") -> NewJob:
    return NewJob(key_id=key_id, mode="generate", model="kinema-tiny", prompt=prompt, enhanced_prompt=prompt,
                  size="64x64", frames=9, seed=1, steps=2, guidance=5.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Store:
    s = Store(database_url, lease_seconds=10, max_attempts=2, clock=clock)
    yield s
    s.close()


def test_keys_are_hashed_at_rest_and_revocable(store: Store) -> None:
    key, secret = store.create_key("alice")
    assert secret.startswith("kn-") and len(secret) > 40
    with store.engine.connect() as conn:
        stored = conn.execute(api_keys.select()).one()
    assert secret not in [str(v) for v in stored] and stored.key_hash == hash_key(secret)
    assert store.authenticate(secret) == key
    assert store.authenticate(secret + "x") is None and store.authenticate("sk-nothing") is None
    assert store.revoke_key("alice") and not store.revoke_key("alice")
    assert store.authenticate(secret) is None
    assert [k.revoked_at is not None for k in store.list_keys()] == [True]
    with pytest.raises(ValueError, match="key name"):
        store.create_key(" ")


def test_jobs_are_owned_listed_in_pages_and_deleted(store: Store) -> None:
    alice, _ = store.create_key("alice")
    bob, _ = store.create_key("bob")
    ids = [store.add_job(job(alice.id, f"ball {i}"), max_active=10).id for i in range(5)]
    store.add_job(job(bob.id), max_active=10)
    assert store.get_job(ids[0], alice.id).prompt == "ball 0"
    assert store.get_job(ids[0], bob.id) is None
    for odd in ("video_\x00", "'; drop table kinema_jobs; --", ids[0].upper()):  # never reaches SQL as an id
        assert store.get_job(odd) is None and store.delete_job(odd, alice.id) is None
    page, more = store.list_jobs(alice.id, limit=2)
    assert [j.id for j in page] == ids[::-1][:2] and more
    page, more = store.list_jobs(alice.id, after=page[-1].id, limit=2)
    assert [j.id for j in page] == ids[::-1][2:4] and more
    page, more = store.list_jobs(alice.id, after=page[-1].id, limit=2)
    assert [j.id for j in page] == [ids[0]] and not more
    assert [j.id for j in store.list_jobs(alice.id, order="asc", limit=100)[0]] == ids
    with pytest.raises(ValueError, match="after"):
        store.list_jobs(bob.id, after=ids[0])
    with pytest.raises(ValueError, match="limit"):
        store.list_jobs(alice.id, limit=0)
    assert store.delete_job(ids[1], bob.id) is None
    assert store.delete_job(ids[1], alice.id).id == ids[1]
    assert store.get_job(ids[1], alice.id) is None


def test_quota_counts_queued_and_running_jobs_per_key(store: Store) -> None:
    alice, _ = store.create_key("alice")
    bob, _ = store.create_key("bob")
    store.add_job(job(alice.id), max_active=2)
    store.add_job(job(alice.id), max_active=2)
    with pytest.raises(QuotaExceeded, match="at most 2"):
        store.add_job(job(alice.id), max_active=2)
    store.add_job(job(bob.id), max_active=2)  # another key has its own quota
    claim = store.claim("w1")
    assert store.complete(claim, "videos/x", {})
    store.add_job(job(alice.id), max_active=2)  # a finished job frees a place


def test_claim_heartbeat_complete_and_a_stale_worker_changes_nothing(store: Store, clock: Clock) -> None:
    key, _ = store.create_key("alice")
    first = store.add_job(job(key.id), max_active=10)
    second = store.add_job(job(key.id), max_active=10)
    claim = store.claim("w1")
    assert claim.job.id == first.id and claim.job.status == "in_progress" and claim.job.attempts == 1
    assert store.heartbeat(claim, 40) and store.heartbeat(claim, 10)
    assert store.get_job(first.id).progress == 40  # progress never goes back
    clock.now += 11  # the lease expires: w1 is presumed dead
    assert store.claim("w2").job.id == first.id  # the oldest runnable job again, before `second`
    retaken = store.get_job(first.id)
    assert retaken.attempts == 2 and retaken.worker_id == "w2"
    assert not store.heartbeat(claim, 90) and not store.complete(claim, "videos/stale", {})
    assert not store.fail(claim, "boom", "stale")
    new_claim = store.claim("w3")
    assert new_claim.job.id == second.id
    now_held = store.claim("w4")
    assert now_held is None  # nothing else runnable: first is held by w2, second by w3


def test_completion_happens_once(store: Store) -> None:
    key, _ = store.create_key("alice")
    store.add_job(job(key.id), max_active=10)
    claim = store.claim("w1")
    assert store.complete(claim, "videos/a", {"provenance": {"c2pa": "valid"}})
    assert not store.complete(claim, "videos/b", {})
    done = store.get_job(claim.job.id)
    assert (done.status, done.progress, done.result_dir, done.info) == ("completed", 100, "videos/a", {"provenance": {"c2pa": "valid"}})
    assert store.claim("w2") is None  # a completed job is never claimed again


def test_a_job_whose_worker_keeps_dying_fails_and_release_requeues(store: Store, clock: Clock) -> None:
    key, _ = store.create_key("alice")
    poison = store.add_job(job(key.id), max_active=10)
    for _ in range(2):  # max_attempts = 2
        assert store.claim("w").job.id == poison.id
        clock.now += 11
    assert store.claim("w") is None
    failed = store.get_job(poison.id)
    assert failed.status == "failed" and failed.error_code == "worker_lost"
    other = store.add_job(job(key.id), max_active=10)
    claim = store.claim("w")
    assert store.release(claim)
    back = store.get_job(other.id)
    assert back.status == "queued" and back.attempts == 0 and store.claim("w").job.attempts == 1


def test_concurrent_claims_from_separate_connections_take_each_job_once(database_url: str) -> None:
    setup = Store(database_url)
    key, _ = setup.create_key("alice")
    ids = {setup.add_job(job(key.id), max_active=100).id for _ in range(24)}
    taken: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        store = Store(database_url)  # its own engine and connections, as another process would have
        while (claim := store.claim(name)) is not None:
            assert store.complete(claim, f"videos/{claim.job.id}", {})
            with lock:
                taken.append(claim.job.id)
        store.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(taken) == sorted(ids)  # every job once, none twice
    assert all(setup.get_job(i).attempts == 1 for i in ids)
    setup.close()
