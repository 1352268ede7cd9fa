"""Reads a Parquet file with pyarrow and prints its schema, rows and metadata as one JSON object.

Used by parquet-python.slow.test.ts: a reader analysts use, not silico's own, checks the file.
"""

import json
import sys

import pyarrow.parquet as pq

table = pq.read_table(sys.argv[1])
meta = table.schema.metadata or {}
print(
    json.dumps(
        {
            "types": {f.name: str(f.type) for f in table.schema},
            "rows": table.to_pylist(),
            "columns": json.loads(meta.get(b"silico.columns", b"null")),
        }
    )
)
