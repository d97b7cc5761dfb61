# The PDPB production image: the official Airflow image plus the project
# (packages, DAGs, dbt and GX projects) at the exact versions of constraints.txt.
# docker-compose.yml builds every Airflow service from it; see docs/deployment.md.
FROM apache/airflow:3.3.2-python3.11

# Where the source tree lives in the image, and the pipeline home (a named
# volume in docker-compose.yml, mounted at this same path in every service).
ENV PDPB_SRC=/opt/pdpb \
    PDPB_HOME=/data/pdpb

# Create both directories owned by the airflow user, group 0 and group-writable
# (the official image's convention), so a fresh volume starts writable and the
# image also runs under another AIRFLOW_UID.
USER root
RUN mkdir -p "${PDPB_SRC}" "${PDPB_HOME}" \
    && chown -R airflow:0 "${PDPB_SRC}" "${PDPB_HOME}" \
    && chmod -R g+rwX "${PDPB_SRC}" "${PDPB_HOME}"
USER airflow

WORKDIR /opt/pdpb
COPY --chown=airflow:0 constraints.txt requirements.in pyproject.toml README.md ./
COPY --chown=airflow:0 pdpb/ pdpb/
COPY --chown=airflow:0 linkage/ linkage/
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 expectations/ expectations/

# Editable install, as in development: pdpb.config finds dbt_project/,
# expectations/ and dags/ next to the installed packages, so the packages must
# run from this source tree rather than from a copy in site-packages.
# constraints.txt pins apache-airflow to the base image's version, so pip keeps
# Airflow as it is and brings every other dependency to the tested version. The
# celery extra (the CeleryExecutor's provider, celery and the redis client) is
# installed in every image: one image serves both executors.
RUN pip install --no-cache-dir -c constraints.txt -e ".[celery]" \
    && python -c "import pdpb.config, linkage"
