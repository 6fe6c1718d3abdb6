"""Past one machine: the same sql/ models built on Apache Spark, one shard of symbols per task, each task running
DuckDB on its shard (barstore.spark.build), and training sets written as shards by symbol (barstore.spark.dataset).
pyspark is imported only inside these modules' functions: `barstore --help` never loads it."""
