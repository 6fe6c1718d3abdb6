"""dbt-style SQL models: one SELECT per file under sql/, built in dependency order into the warehouse."""
