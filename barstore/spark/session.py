"""The Spark session a distributed command runs in: made from [spark] (and --master), with the Python workers
running this interpreter, so tasks import the same barstore, DuckDB and extensions as the driver."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import BarstoreError
from .settings import SparkSettings


def submitted() -> bool:
    """Whether spark-submit started this process (it hands pyspark a running JVM gateway)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextmanager
def spark_session(settings: SparkSettings, app: str = "barstore") -> Iterator:
    """A SparkSession for the block; stopped at its end when this block started it (a session made by
    spark-submit's driver, or by a caller, is reused and left running)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BarstoreError(
            "the Spark engine needs pyspark: pip install 'barstore[spark]' (and Java 17 on the machine)"
        ) from None
    running = SparkSession.getActiveSession()
    if running is not None:
        yield running
        return
    if settings.master.startswith("local"):  # workers are this machine's Python; a cluster ships its own
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app)
    if not submitted():  # under spark-submit its --master and resources rule
        builder = builder.master(settings.master_url())
    for key, value in {
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.task.maxFailures": str(settings.max_failures),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",  # the build prints its own progress
        **settings.conf,
    }.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as err:  # py4j/Java start-up failures: no Java, wrong Java, port trouble
        raise BarstoreError(f"Spark did not start ({settings.master_url()}): {str(err).strip()[:400]}") from None
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def task_error(err: Exception) -> str:
    """What made a Spark job fail, in a line: the Python exception a task raised (the traceback's last
    `...Error: ...` line), else a worker's death as Spark reports it, else Spark's own first line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)]
    if raised:
        return raised[-1]
    lost = [line for line in lines if "Python worker exited unexpectedly" in line or " failed " in line]
    return (lost or lines or [type(err).__name__])[0][:500]
