"""A ``spark-submit`` job: notes in cluster storage (Parquet) -> coded rows in cluster storage.

    spark-submit [cluster options] cac/batch/spark_job.py --input NOTES --output CODED

``NOTES`` is Parquet with ``id``, ``text`` and optionally ``setting``, ``patient_age`` and
``patient_sex``; ``CODED`` receives Parquet with the columns of :func:`cac.batch.code_dataframe`
(suggestion rows, and one row with ``error_kind``/``error`` per note that could not be coded;
with ``--impact`` also the impact columns), sorted within each file by note id and rank. A
rerun appends only notes whose id is not in ``CODED`` yet. Executors build the coder from
``CAC_HOME`` (``--cac-home``, or ``spark.executorEnv.CAC_HOME``); see README "Batch coding".
"""

from __future__ import annotations

import argparse

from cac.batch.coder import DEFAULT_FACTORY, CoderSpec
from cac.batch.spark import code_dataframe


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, code the notes not yet in the output, append them."""
    parser = argparse.ArgumentParser(description="Code notes with cac on a Spark cluster.")
    parser.add_argument("--input", required=True, help="Parquet notes: id, text[, setting].")
    parser.add_argument("--output", required=True, help="Parquet folder for the coded rows.")
    parser.add_argument("--setting", default="inpatient", choices=["inpatient", "outpatient"])
    parser.add_argument("--cac-home", default=None, help="CAC_HOME on the executors.")
    parser.add_argument("--partitions", type=int, default=None, help="Repartition the notes.")
    parser.add_argument("--coder", default=DEFAULT_FACTORY, help="module:function of the coder.")
    parser.add_argument(
        "--impact",
        action="store_true",
        help="Add the impact columns (drg, drg_weight, drg_provisional, principal, cc_mcc, hccs, "
        "raf, raf_disease, prompts, impact); keep it the same for every run into one OUTPUT.",
    )
    args = parser.parse_args(argv)

    from pyspark.errors import AnalysisException
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("cac-batch").getOrCreate()
    notes = spark.read.parquet(args.input)
    try:
        done = spark.read.parquet(args.output).select("note_id").distinct()
        notes = notes.join(done, notes["id"].cast("string") == done["note_id"], "left_anti")
    except AnalysisException:  # no output yet
        pass
    if args.partitions:
        notes = notes.repartition(args.partitions)
    spec = CoderSpec(args.coder, args.cac_home)
    coded = code_dataframe(notes, setting=args.setting, coder=spec, impact=args.impact)
    coded.sortWithinPartitions("note_id", "rank").write.mode("append").parquet(args.output)


if __name__ == "__main__":
    main()
