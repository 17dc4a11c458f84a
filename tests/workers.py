"""What each pytest-xdist worker keeps to itself (`make test` runs two)."""


def worker_redis_url(url: str, worker: str | None) -> str:
    """The Redis db of worker `gwN`: N below `url`'s, as pytest-django gives each worker a database of its own
    (test_bdt_gw0, test_bdt_gw1, ...), so that its Celery worker, page cache and send limits see none of the
    other's. Without xdist (`worker` None), `url` itself."""
    if not worker:
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{int(db) - int(worker.removeprefix('gw'))}"
