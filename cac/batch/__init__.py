"""Batch coding: many notes through the same :class:`cac.Coder`, locally or on Apache Spark.

- :mod:`cac.batch.inputs` reads notes (a folder of ``.txt`` files, JSONL, Parquet);
- :mod:`cac.batch.rows` turns one coded note into flat rows (shared by every engine);
- :mod:`cac.batch.local` codes with worker processes, :mod:`cac.batch.spark` with ``mapInPandas``;
- :mod:`cac.batch.outputs` writes part files and compacts them into one sorted output;
- :mod:`cac.batch.runner` ties them together for ``cac batch``.

``code_dataframe`` (Spark DataFrame in, suggestion rows out) is the notebook entry point; PySpark is
imported only when it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cac.batch.coder import CoderSpec

if TYPE_CHECKING:
    from cac.batch.spark import code_dataframe

__all__ = ["CoderSpec", "code_dataframe"]


def __getattr__(name: str) -> Any:
    # cac.batch.spark needs pyarrow; `cac batch --help` and the coder spec do not.
    if name == "code_dataframe":
        from cac.batch.spark import code_dataframe

        return code_dataframe
    raise AttributeError(f"module 'cac.batch' has no attribute {name!r}")
