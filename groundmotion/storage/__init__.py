"""Every statement against the point, series, extras and cell tables, in one package.

- tables: the table names (from the models) and the points' float columns in COPY order;
- binary: PostgreSQL's binary COPY format as numpy records (header, row_dtype, records);
- copy_in: binary COPY from numpy buffers into those tables, and write-back of fitted values;
- copy_out: binary COPY out of them into numpy records (`read_binary`), chunked and parallel;
- partitions: one points table per dataset, staged during a load and attached at its end;
- queries: the few aggregates and lookups the products and loaders ask for by name;
- series_codec: the stored bytes of a displacement series;
- compiled: querysets compiled once per process, and the one registry of their caches.

Tile and cell statements are templates of their own in groundmotion/tiles.py and cells.py.
"""
