"""The script spark-submit runs: the `barstore` command line with absolute imports, e.g.

    spark-submit --master spark://head:7077 "$(python -c 'import barstore.spark.submit as m; print(m.__file__)')" \\
        build --engine spark --home /shared/barstore

The session spark-submit configured (master, resources) is the one the command uses."""

from barstore.cli import app

if __name__ == "__main__":
    app()
