# imgscan's own image: a small, non-root image that scans registries (docker://) and archives with no
# Docker daemon. Built offline: FROM a locally made base (ci/python-base imports Debian's python3.11,
# nothing is pulled) and installed from wheels built beside it. `ci/build-image` does all three steps:
#   ci/python-base                       # imgscan-base/python:3.11
#   pip wheel -w build/docker .          # imgscan and its dependencies, plus pip itself as pip.whl
#   docker build --network=none -t imgscan:local .
ARG BASE=imgscan-base/python:3.11

FROM ${BASE} AS install
COPY build/docker/ /wheels/
RUN ["python3", "/wheels/pip.whl/pip", "install", "--no-index", "--find-links=/wheels", \
     "--target=/opt/imgscan", "--disable-pip-version-check", "--root-user-action=ignore", "imgscan"]

FROM ${BASE}
COPY --from=install /opt/imgscan /opt/imgscan
ENV PYTHONPATH=/opt/imgscan \
    IMGSCAN_CACHE_DIR=/home/imgscan/.cache/imgscan
USER imgscan
WORKDIR /home/imgscan
ENTRYPOINT ["python3", "-m", "scanner.cli"]
