"""`kinema serve`: Kinema behind the OpenAI videos API, with durable jobs and API keys.

Pieces, one job each (see docs/serve.md for the HTTP contract):
- `config.ServeConfig`: the data directory, database URL and every limit (CLI flags map to it).
- `store.Store`: jobs and API keys in SQL (SQLite file by default, PostgreSQL by URL); claims,
  leases and conditional completion so a job never finishes twice.
- `app.create_app(config)`: the FastAPI app (`/v1/videos...`, `/v1/kinema/...`).
- `worker.Worker`: claims jobs, runs them through `kinema.pipeline` / `kinema.modes` (`jobs`),
  writes the signed MP4 and its previews (`media`) atomically under `$KINEMA_HOME/videos/`.
- `auth`: Bearer keys (only their SHA-256 is stored) and per-key rate limits; `errors`: OpenAI's
  error shape; `schemas`: the JSON objects.

The web server imports the library; the library never imports `kinema.serve`.
"""
