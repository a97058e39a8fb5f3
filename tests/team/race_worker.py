"""One of several processes racing on a LanceDB index on S3 (run by test_commits_on_s3.py).

`python -m tests.team.race_worker lease URI COLLECTION START_AT`: take the index's write lease
(lease.py) 5 times, hold it 50 ms each, print each hold as "start end".
`python -m tests.team.race_worker append URI TABLE START_AT NAME`: append 5 batches of 10 rows.
START_AT (a time.time()) lines the processes up, so that they really race.
"""

from __future__ import annotations

import sys
import time

import pyarrow as pa


def main() -> None:
    verb, uri, name, start_at = sys.argv[1:5]
    time.sleep(max(0.0, float(start_at) - time.time()))
    if verb == "lease":
        from atlas_tui.knowledge.store import Store

        store = Store(uri, name)
        for _ in range(5):
            with store.exclusive():
                began = time.time()
                time.sleep(0.05)
                print(began, time.time(), flush=True)
    else:
        import lancedb

        table = lancedb.connect(uri).open_table(name)
        for batch in range(5):
            table.add(pa.table({"writer": [sys.argv[5]] * 10, "batch": [batch] * 10}))


if __name__ == "__main__":
    main()
