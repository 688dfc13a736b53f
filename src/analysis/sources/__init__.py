"""Online clients, one small module per publisher, sharing one HTTP layer (`sources.http`).

| module | publisher / API | raw files written |
|---|---|---|
| `ted` | TED bulk award-notice CSV zips 2006–2023 | `data/raw/ted-award-notices/` (zip + Swedish rows) |
| `ted_api` | TED Search API v3 (2024 on), iteration tokens | `data/raw/ted-api-notices/` |
| `uhm` | Upphandlingsmyndigheten statistics exports + award file | `data/raw/uhm-procurement-YYYY/`, `uhm-awards-2021-2024/` |
| `kolada` | Kolada v3 paging (`next_url`, else `next_page`) | used by `analysis.refresh` |
| `scb` | SCB PxWebApi 2.0 (TAB638) beside PxWeb v1 | used by `analysis.refresh` |

Recipe for adding a source (in the spirit of kingfisher-collect's spiders):
1. Write the publisher's URLs, shapes and quirks into docs (online-sources) first; record one real answer
   and keep it as a test fixture, named as real or synthetic.
2. Add `sources/<publisher>.py` with `DEFAULT_BASE`, a `RECORD` dict (id, title, publisher, licence,
   attribution, url, notes) and one `refresh_<publisher>(years, raw_dir, base_url, client)` function that
   uses `http.Client` only (retries, rate limits, resumable `download`), writes under
   `data/raw/<source id>/` and calls `record.upsert` with one `record.file_entry` per file (sha256, query,
   retrieval time, client).
3. Parse by column/field *name*; a shape you do not recognise is one `UserError` line naming file, row
   and column. Never silently drop rows: count what you keep and say it in the summary line.
4. Register it in `cli.refresh_procurement` (or its own `refresh` sub-command) with `--base-url`, and test
   it against a loopback `http.server` serving the recorded answer: never the internet.
"""
