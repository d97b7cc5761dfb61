"""PDPB: the monthly pipeline that keeps Indonesia's continuous voter list current.

Stages (ingest, quality gates, linkage, apply, dbt, publish) live in this
package and in `linkage`; the CLI and the Airflow DAGs only call them.
"""

__version__ = "0.1.0"
